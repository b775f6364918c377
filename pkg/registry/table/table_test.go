package table_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry/table"
)

func convertor(row func(obj runtime.Object, now time.Time) ([]any, error)) table.Convertor {
	return table.Convertor{
		Columns: []metav1.TableColumnDefinition{table.NameColumn, table.AgeColumn},
		Row:     row,
	}
}

func nameAndAge(obj runtime.Object, now time.Time) ([]any, error) {
	p := obj.(*sluice.Pipeline)
	return []any{p.Name, table.Age(p.CreationTimestamp, now)}, nil
}

func TestConvertList(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-90 * time.Minute))
	list := &sluice.PipelineList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next"},
		Items: []sluice.Pipeline{
			{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: created}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b"}},
		},
	}
	var nows []time.Time
	c := convertor(func(obj runtime.Object, now time.Time) ([]any, error) {
		nows = append(nows, now)
		return nameAndAge(obj, now)
	})
	before := time.Now()
	tbl, err := c.ConvertToTable(context.Background(), list, nil)
	require.NoError(t, err)

	assert.Equal(t, c.Columns, tbl.ColumnDefinitions)
	assert.Equal(t, "42", tbl.ResourceVersion)
	assert.Equal(t, "next", tbl.Continue)
	require.Len(t, tbl.Rows, 2)
	assert.Equal(t, []any{"a", "90m"}, tbl.Rows[0].Cells)
	assert.Equal(t, []any{"b", "<unknown>"}, tbl.Rows[1].Cells)
	assert.Equal(t, "a", tbl.Rows[0].Object.Object.(*sluice.Pipeline).Name)

	require.Len(t, nows, 2)
	assert.Equal(t, nows[0], nows[1], "one time for every row of a list")
	assert.False(t, nows[0].Before(before), "now is the time of the request")
}

func TestConvertOneObject(t *testing.T) {
	p := &sluice.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "7"}}
	tbl, err := convertor(nameAndAge).ConvertToTable(context.Background(), p, &metav1.TableOptions{NoHeaders: true})
	require.NoError(t, err)
	assert.Nil(t, tbl.ColumnDefinitions, "no headers")
	assert.Equal(t, "7", tbl.ResourceVersion)
	require.Len(t, tbl.Rows, 1)
	assert.Equal(t, []any{"a", "<unknown>"}, tbl.Rows[0].Cells)
}

func TestRowWithTheWrongNumberOfCells(t *testing.T) {
	c := convertor(func(obj runtime.Object, now time.Time) ([]any, error) { return []any{"a"}, nil })
	_, err := c.ConvertToTable(context.Background(), &sluice.Pipeline{}, nil)
	assert.ErrorContains(t, err, "1 cells for 2 columns")
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	assert.Equal(t, "<unknown>", table.Age(metav1.Time{}, now))
	assert.Equal(t, "5m", table.Age(metav1.NewTime(now.Add(-5*time.Minute)), now))
	assert.Equal(t, "3d", table.Age(metav1.NewTime(now.Add(-72*time.Hour)), now))
}
