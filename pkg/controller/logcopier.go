package controller

import (
	"context"
	"fmt"
	"io"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

// NewLogCopier returns the LogCopier of a running controller: it reads an
// action's output from pods/log through kube-apiserver and streams it,
// without holding it in memory, to the job's pipelinejobs/log subresource,
// which stores it and records the action's output Archived in the job's
// status.
func NewLogCopier(kube kubernetes.Interface, sluice sluiceclient.Interface) LogCopier {
	return &apiLogCopier{kube: kube, sluice: sluice}
}

type apiLogCopier struct {
	kube   kubernetes.Interface
	sluice sluiceclient.Interface
}

func (a *apiLogCopier) CopyLog(ctx context.Context, c LogCopy) (int64, error) {
	// Timestamps, as the archive serves them (and drops them when a reader
	// does not ask for them); not following: the output so far.
	logs, err := a.kube.CoreV1().Pods(c.Namespace).GetLogs(c.Pod, &corev1.PodLogOptions{Container: c.Action, Timestamps: true}).Stream(ctx)
	if apierrors.IsNotFound(err) {
		return 0, fmt.Errorf("reading the output of pod %s: %w", c.Pod, ErrPodGone)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the output of pod %s: %w", c.Pod, err)
	}
	defer logs.Close()
	body := &countingReader{r: logs}
	err = a.sluice.SluiceV1alpha1().RESTClient().Post().
		Namespace(c.Namespace).Resource("pipelinejobs").Name(c.Job).SubResource("log").
		Param("step", c.Step).
		Param("action", c.Action).
		Param("attempt", strconv.Itoa(int(c.Attempt))).
		SetHeader("Content-Type", "text/plain").
		Body(body).
		Do(ctx).
		Error()
	if err != nil {
		return body.n, fmt.Errorf("storing the output in the archive: %w", err)
	}
	return body.n, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
