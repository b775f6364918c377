package apiserver

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

func TestIndexedFields(t *testing.T) {
	assert.Equal(t, v1alpha1.PipelineJobSelectableFields, IndexedFields(sluice.Resource("pipelinejobs")))
	assert.Equal(t, v1alpha1.PipelineSelectableFields, IndexedFields(sluice.Resource("pipelines")))
	assert.Nil(t, IndexedFields(sluice.Resource("pipelinejobs/status")))
}
