package apiserver

// Benchmarks of the storage codec: a PipelineJob encoded to the bytes of the
// value column and decoded back, through the codec the generic registry
// gets from postgres.RESTOptionsGetter, exactly as the store calls it
// (runtime.Encode of the internal object; runtime.DecodeInto a new internal
// object). Each encoding is a sub-benchmark named encoding=..., so one run
// compares them:
//
//	go test ./pkg/apiserver -run '^$' -bench StorageCodec -count 6 | tee codec.txt
//	benchstat -col /encoding codec.txt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

func BenchmarkStorageCodec(b *testing.B) {
	encodings := []struct {
		name       string
		serializer runtime.StorageSerializer
		mediaType  string
	}{
		// Before: kind and apiVersion found by parsing the whole object.
		{"json", Codecs, runtime.ContentTypeJSON},
		// JSON as sluice-apiserver reads the values stored before protobuf.
		{"json-leadingkeys", StorageSerializer, runtime.ContentTypeJSON},
		// What sluice-apiserver stores.
		{"protobuf", StorageSerializer, StorageMediaType},
		{"cbor", serializer.NewCodecFactory(Scheme, serializer.WithSerializer(cbor.NewSerializerInfo)), runtime.ContentTypeCBOR},
	}
	objects := []struct {
		name string
		job  *sluice.PipelineJob
	}{
		{"new", benchJob(1, false, false)},
		{"new+managedFields", benchJob(1, false, true)},
		{"finished", benchJob(1, true, false)},
		{"finished+managedFields", benchJob(1, true, true)},
	}
	for _, obj := range objects {
		for _, enc := range encodings {
			codec := storageCodec(b, enc.serializer, enc.mediaType)
			data, err := runtime.Encode(codec, obj.job)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("object=%s/op=decode/encoding=%s", obj.name, enc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := runtime.DecodeInto(codec, data, &sluice.PipelineJob{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data)), "stored-bytes")
			})
			b.Run(fmt.Sprintf("object=%s/op=encode/encoding=%s", obj.name, enc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := runtime.Encode(codec, obj.job); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// storageCodec is the codec of pipelinejobs as the registry gets it.
func storageCodec(tb testing.TB, s runtime.StorageSerializer, mediaType string) runtime.Codec {
	tb.Helper()
	getter := &postgres.RESTOptionsGetter{
		Serializer:       s,
		StorageMediaType: mediaType,
		StorageVersion:   StorageVersion,
		MemoryVersion:    MemoryVersion,
	}
	opts, err := getter.GetRESTOptions(sluice.Resource("pipelinejobs"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return opts.StorageConfig.Codec
}

// benchJob is the i-th job of hack/bench (newJob, objects.go) as the
// apiserver stores it after a create by the webhook relay: about 1 KiB of
// JSON; finished adds the status a controller writes when the job has
// succeeded, three steps of two actions, about 2.6 KiB. managedFields adds
// the entries the apiserver records for the create and the status update,
// about 1.3 KiB more.
func benchJob(i int, finished, managedFields bool) *sluice.PipelineJob {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pipeline := fmt.Sprintf("service-%03d-release", i%100)
	job := &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{
			Name:              fmt.Sprintf("job-%07d", i),
			Namespace:         "bench",
			UID:               types.UID("5f0c3c1e-7a8b-4c2d-9e1f-0a1b2c3d4e5f"),
			Generation:        1,
			CreationTimestamp: metav1.NewTime(created),
			Labels: map[string]string{
				"sluice.dev/pipeline":            pipeline,
				"app.kubernetes.io/name":         fmt.Sprintf("service-%03d", i%100),
				"app.kubernetes.io/part-of":      "platform",
				"team.example.com/owner":         fmt.Sprintf("team-%02d", i%20),
				"bench.sluice.dev/cohort":        fmt.Sprintf("c%04d", i%1000),
				"sluice.dev/controller-instance": "none",
			},
			Annotations: map[string]string{
				"ci.example.com/pull-request": fmt.Sprintf("https://git.example.com/platform/service-%03d/pull/%d", i%100, i),
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: "webhook-relay", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "sluice.dev/v1alpha1",
				Time: &metav1.Time{Time: created}, FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{".":{},"f:ci.example.com/pull-request":{}},"f:labels":{".":{},` +
					`"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:bench.sluice.dev/cohort":{},"f:sluice.dev/controller-instance":{},` +
					`"f:team.example.com/owner":{}}},"f:spec":{".":{},"f:params":{".":{},"k:{\"name\":\"environment\"}":{".":{},"f:name":{},"f:value":{}},` +
					`"k:{\"name\":\"image\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"repo\"}":{".":{},"f:name":{},"f:value":{}},` +
					`"k:{\"name\":\"revision\"}":{".":{},"f:name":{},"f:value":{}}},"f:pipelineRef":{".":{},"f:name":{}},"f:trigger":{".":{},"f:detail":{},"f:type":{}}}}`)},
			}},
		},
		Spec: sluice.PipelineJobSpec{
			PipelineRef: &sluice.PipelineReference{Name: pipeline},
			Params: []sluice.Param{
				{Name: "repo", Value: fmt.Sprintf("https://git.example.com/platform/service-%03d.git", i%100)},
				{Name: "revision", Value: fmt.Sprintf("%040x", uint64(i)*2654435761)},
				{Name: "image", Value: fmt.Sprintf("registry.example.com/platform/service-%03d", i%100)},
				{Name: "environment", Value: []string{"dev", "staging", "production"}[i%3]},
			},
			Trigger:   sluice.JobTrigger{Type: sluice.TriggerWebhook, Detail: fmt.Sprintf("push to refs/heads/main by user-%04d", i%5000)},
			StartedBy: &sluice.UserInfo{Username: "system:serviceaccount:ci:webhook-relay", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci"}},
		},
		Status: sluice.PipelineJobStatus{Phase: sluice.JobPending},
	}
	if !managedFields {
		job.ManagedFields = nil
	}
	if !finished {
		return job
	}
	ts := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: created.Add(d)} }
	exit0 := int32(0)
	step := func(name string, i int) sluice.StepStatus {
		start := time.Duration(i) * time.Minute
		return sluice.StepStatus{
			Name: name, Phase: sluice.StepSucceeded, PodName: fmt.Sprintf("%s-%s-1", pipeline, name), Attempts: 1,
			StartTime: ts(start), CompletionTime: ts(start + time.Minute),
			Actions: []sluice.ActionStatus{
				{Name: "clone", ExitCode: &exit0, Reason: "Completed", StartTime: ts(start), CompletionTime: ts(start + 5*time.Second)},
				{Name: "run", ExitCode: &exit0, Reason: "Completed", StartTime: ts(start + 5*time.Second), CompletionTime: ts(start + time.Minute)},
			},
		}
	}
	msg := "all 3 steps succeeded"
	job.Status = sluice.PipelineJobStatus{
		Phase:              sluice.JobSucceeded,
		ObservedGeneration: 1,
		StartTime:          ts(0),
		CompletionTime:     ts(3 * time.Minute),
		Message:            msg,
		Conditions: []metav1.Condition{{
			Type: "Succeeded", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: msg,
			LastTransitionTime: *ts(3 * time.Minute), ObservedGeneration: 1,
		}},
		Steps: []sluice.StepStatus{step("test", 0), step("build", 1), step("deploy", 2)},
	}
	if !managedFields {
		return job
	}
	job.ManagedFields = append(job.ManagedFields, metav1.ManagedFieldsEntry{
		Manager: "sluice-controller", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "sluice.dev/v1alpha1",
		Time: ts(3 * time.Minute), FieldsType: "FieldsV1", Subresource: "status",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:completionTime":{},"f:conditions":{".":{},"k:{\"type\":\"Succeeded\"}":{".":{},` +
			`"f:lastTransitionTime":{},"f:message":{},"f:observedGeneration":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:message":{},` +
			`"f:observedGeneration":{},"f:phase":{},"f:startTime":{},"f:steps":{}}}`)},
	})
	return job
}

// TestBenchJobSizes keeps the benchmark's objects at the sizes of
// hack/bench's, as JSON.
func TestBenchJobSizes(t *testing.T) {
	codec := storageCodec(t, Codecs, runtime.ContentTypeJSON)
	for _, c := range []struct {
		finished, managedFields bool
		min, max                int
	}{{false, false, 900, 1200}, {false, true, 1700, 2100}, {true, false, 2300, 2900}, {true, true, 3700, 4300}} {
		data, err := runtime.Encode(codec, benchJob(1, c.finished, c.managedFields))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < c.min || len(data) > c.max {
			t.Errorf("finished=%v managedFields=%v: %d bytes of JSON, want %d to %d:\n%s", c.finished, c.managedFields, len(data), c.min, c.max, data)
		}
		if !strings.HasPrefix(string(data), `{"kind":"PipelineJob","apiVersion":"sluice.dev/v1alpha1",`) {
			t.Errorf("kind and apiVersion are not the leading keys:\n%.80s", data)
		}
	}
}

// TestStoredValuesLeadWithTypeMeta: every stored kind is encoded in JSON
// with kind and apiVersion as its first two keys, where the storage
// serializer reads them in the values stored as JSON without parsing the
// whole value (postgres.NewStorageSerializer).
func TestStoredValuesLeadWithTypeMeta(t *testing.T) {
	for _, obj := range []runtime.Object{&sluice.Pipeline{}, &sluice.PipelineJob{}, &sluice.Trigger{}} {
		codec := storageCodec(t, StorageSerializer, runtime.ContentTypeJSON)
		data, err := runtime.Encode(codec, obj)
		if err != nil {
			t.Fatal(err)
		}
		kinds, _, err := Scheme.ObjectKinds(obj)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"kind":"` + kinds[0].Kind + `","apiVersion":"sluice.dev/v1alpha1",`
		if !strings.HasPrefix(string(data), want) {
			t.Errorf("%T is stored as %.80s, want it to start with %s", obj, data, want)
		}
	}
}
