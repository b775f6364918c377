package sluicectl

import (
	"context"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// NewestPageSize is how many jobs one request of a newest-first listing
// reads.
const NewestPageSize = 500

// KeepNewest reads the pages next returns, from the first (continue
// token "") until one has no continue token, and keeps the newest limit
// items (all when limit is 0), newest first: the server lists in name
// order, and a job's name says nothing of its age, so newest first needs
// the whole selection read. At most limit items and a page are held at
// once. job gives the job of an item, which the order reads.
func KeepNewest[T any](ctx context.Context, limit int, job func(T) *v1alpha1.PipelineJob, next func(ctx context.Context, cont string) ([]T, string, error)) ([]T, error) {
	var kept []T
	cont := ""
	for {
		page, more, err := next(ctx, cont)
		if err != nil {
			return nil, err
		}
		kept = append(kept, page...)
		slices.SortStableFunc(kept, func(a, b T) int { return CompareNewestFirst(job(a), job(b)) })
		if limit > 0 && len(kept) > limit {
			clear(kept[limit:])
			kept = kept[:limit]
		}
		if more == "" {
			return kept, nil
		}
		cont = more
	}
}

// CompareNewestFirst orders jobs by when the server stored each:
// status.submitTime, which it sets to the microsecond on create, else the
// creation time (to the second); then by name, the later name first.
func CompareNewestFirst(a, b *v1alpha1.PipelineJob) int {
	ta, tb := Submitted(a), Submitted(b)
	switch {
	case ta.After(tb):
		return -1
	case tb.After(ta):
		return 1
	case a.Name > b.Name:
		return -1
	case a.Name < b.Name:
		return 1
	}
	return 0
}

// Submitted is when the server stored j.
func Submitted(j *v1alpha1.PipelineJob) time.Time {
	if t := j.Status.SubmitTime; t != nil {
		return t.Time
	}
	return j.CreationTimestamp.Time
}
