package controller

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/substitution"
)

// LabelAttempt holds the attempt number of a step's Pod (1 for the first).
const LabelAttempt = "sluice.dev/attempt"

// maxNameLength keeps Pod and PVC names valid as DNS-1123 labels, which
// is also what a Pod's hostname must be.
const maxNameLength = 63

// podName is the deterministic name of attempt `attempt` of step `step` of
// job: "<job>-<step>-<attempt>", or, when that is too long, a prefix of it
// with a hash of the job and step. A restarted controller computes the same
// name, so it can never create a second Pod for the same attempt.
func podName(job, step string, attempt int32) string {
	return shortName(job+"-"+step, "-"+strconv.Itoa(int(attempt)), job+"/"+step)
}

// workspaceName is the name of the job's workspace PVC.
func workspaceName(job string) string { return shortName(job, "-workspace", job) }

// shortName returns base+suffix, or when longer than maxNameLength, a
// prefix of base, a hash of key, and suffix.
func shortName(base, suffix, key string) string {
	if len(base)+len(suffix) <= maxNameLength {
		return base + suffix
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	hashed := fmt.Sprintf("-%08x%s", h.Sum32(), suffix)
	prefix := strings.TrimRight(base[:maxNameLength-len(hashed)], "-.")
	return prefix + hashed
}

// resolved is a job's pipeline with its params resolved and every step's
// actions expanded into containers.
type resolved struct {
	spec       *v1alpha1.PipelineSpec
	params     map[string]string    // "params.NAME" -> value, plus job.name and job.namespace
	containers [][]corev1.Container // by step: the actions, references expanded
}

// resolve checks a job's params against its pipeline, by the same rule as
// the apiserver (substitution.ResolveParams), and every reference in the
// pipeline against the params, as at job start: unknown params, missing
// required params and unknown references are errors, never empty strings
// in a running Pod.
func resolve(job *v1alpha1.PipelineJob, spec *v1alpha1.PipelineSpec) (*resolved, string, error) {
	declared := make([]substitution.Declared, 0, len(spec.Params))
	for _, p := range spec.Params {
		declared = append(declared, substitution.Declared{Name: p.Name, Default: p.Default})
	}
	given := make([]substitution.Given, 0, len(job.Spec.Params))
	for _, p := range job.Spec.Params {
		given = append(given, substitution.Given{Name: p.Name, Value: p.Value})
	}
	values, errs := substitution.ResolveParams(declared, given, field.NewPath("spec", "params"))
	if len(errs) > 0 {
		return nil, ReasonInvalidParams, errs.ToAggregate()
	}
	values["job.name"] = job.Name
	values["job.namespace"] = job.Namespace
	r := &resolved{spec: spec, params: values}
	// Every reference must resolve now: the Pods are built from these
	// containers, so building a Pod cannot fail later.
	for i := range spec.Steps {
		containers, err := r.expandStep(i)
		if err != nil {
			return nil, ReasonInvalidReference, err
		}
		r.containers = append(r.containers, containers)
	}
	return r, "", nil
}

// expand substitutes the references in s, or fails naming them and where.
func (r *resolved) expand(s, step, where string) (string, error) {
	values := r.params
	if strings.Contains(s, "$(step.") {
		values = make(map[string]string, len(r.params)+1)
		for k, v := range r.params {
			values[k] = v
		}
		values["step.name"] = step
	}
	out, missing := substitution.Expand(s, values)
	if len(missing) > 0 {
		for i := range missing {
			missing[i] = "$(" + missing[i] + ")"
		}
		return "", fmt.Errorf("unknown reference %s in %s", strings.Join(missing, ", "), where)
	}
	return out, nil
}

// expandStep builds the containers of step i from its actions, with every
// reference expanded, or fails naming the first unknown one and where.
func (r *resolved) expandStep(i int) ([]corev1.Container, error) {
	step := r.spec.Steps[i]
	mount := corev1.VolumeMount{Name: "workspace", MountPath: v1alpha1.WorkspaceMountPath}
	var containers []corev1.Container
	for k, a := range step.Actions {
		where := fmt.Sprintf("steps[%d].actions[%d]", i, k)
		image, err := r.expand(a.Image, step.Name, where+".image")
		if err != nil {
			return nil, err
		}
		c := corev1.Container{
			Name:            a.Name,
			Image:           image,
			WorkingDir:      a.WorkingDir,
			EnvFrom:         a.EnvFrom,
			Resources:       a.Resources,
			SecurityContext: a.SecurityContext,
			VolumeMounts:    []corev1.VolumeMount{mount},
		}
		for n, s := range a.Command {
			v, err := r.expand(s, step.Name, fmt.Sprintf("%s.command[%d]", where, n))
			if err != nil {
				return nil, err
			}
			c.Command = append(c.Command, v)
		}
		for n, s := range a.Args {
			v, err := r.expand(s, step.Name, fmt.Sprintf("%s.args[%d]", where, n))
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, v)
		}
		for n, e := range a.Env {
			if e.ValueFrom == nil {
				v, err := r.expand(e.Value, step.Name, fmt.Sprintf("%s.env[%d].value", where, n))
				if err != nil {
					return nil, err
				}
				e.Value = v
			}
			c.Env = append(c.Env, e)
		}
		containers = append(containers, c)
	}
	return containers, nil
}

// podSpec builds the Pod of one attempt of step i. workspacePVC is the name
// of the job's workspace claim, or empty for an emptyDir.
func (r *resolved) podSpec(job *v1alpha1.PipelineJob, i int, attempt int32, workspacePVC string) *corev1.Pod {
	step := r.spec.Steps[i]
	containers := make([]corev1.Container, len(r.containers[i]))
	for k := range r.containers[i] {
		r.containers[i][k].DeepCopyInto(&containers[k])
	}
	labels := map[string]string{
		v1alpha1.LabelJob:  job.Name,
		v1alpha1.LabelStep: step.Name,
		LabelAttempt:       strconv.Itoa(int(attempt)),
	}
	if job.Spec.PipelineRef != nil {
		labels[v1alpha1.LabelPipeline] = job.Spec.PipelineRef.Name
	}
	volume := corev1.Volume{Name: "workspace", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	if workspacePVC != "" {
		volume.VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: workspacePVC}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            podName(job.Name, step.Name, attempt),
			Namespace:       job.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{ownerRef(job)},
		},
		Spec: corev1.PodSpec{
			// Actions run in order: all but the last as init containers.
			InitContainers: containers[:len(containers)-1],
			Containers:     containers[len(containers)-1:],
			RestartPolicy:  corev1.RestartPolicyNever,
			Volumes:        []corev1.Volume{volume},
		},
	}
	if t := step.PodTemplate; t != nil {
		pod.Spec.ServiceAccountName = t.ServiceAccountName
		pod.Spec.NodeSelector = t.NodeSelector
		pod.Spec.Tolerations = t.Tolerations
		pod.Spec.Affinity = t.Affinity
		pod.Spec.SecurityContext = t.SecurityContext
		pod.Spec.ImagePullSecrets = t.ImagePullSecrets
	}
	return pod
}

// ownerRef makes the job the controller owner of what it creates, so the
// garbage collector deletes its Pods and PVC with it.
func ownerRef(job *v1alpha1.PipelineJob) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         v1alpha1.SchemeGroupVersion.String(),
		Kind:               "PipelineJob",
		Name:               job.Name,
		UID:                job.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// workspaceClaim is the job's workspace PVC from the pipeline's template.
func workspaceClaim(job *v1alpha1.PipelineJob, tpl *corev1.PersistentVolumeClaimTemplate) *corev1.PersistentVolumeClaim {
	labels := map[string]string{v1alpha1.LabelJob: job.Name}
	for k, v := range tpl.Labels {
		labels[k] = v
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:            workspaceName(job.Name),
			Namespace:       job.Namespace,
			Labels:          labels,
			Annotations:     tpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{ownerRef(job)},
		},
		Spec: tpl.Spec,
	}
}
