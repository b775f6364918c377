package table

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Convertor is a rest.TableConvertor with fixed columns. The first column
// must be the name. Columns with Priority > 0 are shown by `kubectl get -o wide`.
type Convertor struct {
	Columns []metav1.TableColumnDefinition
	// Row returns the cells of one object, one per column. now is the
	// time of the request, the same for every row of a list.
	Row func(obj runtime.Object, now time.Time) ([]any, error)
}

var _ rest.TableConvertor = Convertor{}

// ConvertToTable converts an object or a list into a table.
func (c Convertor) ConvertToTable(_ context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	table := &metav1.Table{}
	addRow := func(obj runtime.Object) error {
		cells, err := c.Row(obj, now)
		if err != nil {
			return err
		}
		if len(cells) != len(c.Columns) {
			return fmt.Errorf("table row has %d cells for %d columns", len(cells), len(c.Columns))
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: obj}})
		return nil
	}
	if meta.IsListType(object) {
		if err := meta.EachListItem(object, addRow); err != nil {
			return nil, err
		}
	} else if err := addRow(object); err != nil {
		return nil, err
	}
	if l, err := meta.ListAccessor(object); err == nil {
		table.ResourceVersion = l.GetResourceVersion()
		table.Continue = l.GetContinue()
		table.RemainingItemCount = l.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(object); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = c.Columns
	}
	return table, nil
}

// Age formats the time since t as kubectl does ("5m", "3d"), or "<unknown>".
func Age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// Column descriptions shared by resources.
var (
	NameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
	AgeColumn  = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
)
