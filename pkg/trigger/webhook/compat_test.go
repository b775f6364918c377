package webhook_test

import (
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-dev/sluice/pkg/controller"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// TestSluiceNotificationTriggers: a notification signed and labelled as
// pkg/controller sends it passes the Generic check, so one Sluice can
// trigger another.
func TestSluiceNotificationTriggers(t *testing.T) {
	body, err := os.ReadFile("testdata/sluice-notification.json")
	require.NoError(t, err)
	key := []byte("shared key")
	h := http.Header{}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h.Set(controller.HeaderTimestamp, ts)
	h.Set(controller.HeaderSignature, controller.Sign(key, ts, body))
	h.Set(controller.HeaderEvent, "Failed")
	h.Set(controller.HeaderDelivery, "5b0c1f0e-Failed")

	assert.Equal(t, controller.HeaderSignature, webhook.HeaderSluiceSignature)
	assert.Equal(t, controller.HeaderTimestamp, webhook.HeaderSluiceTimestamp)
	assert.Equal(t, controller.HeaderEvent, webhook.HeaderSluiceEvent)
	assert.Equal(t, controller.HeaderDelivery, webhook.HeaderSluiceDelivery)
	require.NoError(t, webhook.VerifyGeneric(h, body, key, time.Now()))
	e, err := webhook.ParseGeneric(h, body)
	require.NoError(t, err)
	assert.Equal(t, "5b0c1f0e-Failed", e.DeliveryID)
	v, err := e.Lookup("job.name")
	require.NoError(t, err)
	assert.Equal(t, "release-7", v)
}
