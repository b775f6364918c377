package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

// The actions: each a form POSTed to the dashboard, which makes the call
// kubectl sluice makes (pkg/sluicectl), then sends the browser to the job
// the action is about (303), or shows the refusal with the server's
// reason and status code.

// decide approves or rejects the gate a job waits at.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	ns, name, ok := s.actionTarget(w, r)
	if !ok {
		return
	}
	decision := v1alpha1.Approve
	if r.URL.Path == "/jobs/"+name+"/reject" {
		decision = v1alpha1.Reject
	}
	message := r.PostForm.Get("message")
	if decision == v1alpha1.Reject && message == "" {
		s.actionRefused(w, ns, name, http.StatusBadRequest, "a rejection needs a message: say why, and the job fails with it")
		return
	}
	if _, err := sluicectl.Decide(r.Context(), s.Sluice, ns, name, decision, message, r.PostForm.Get("step")); err != nil {
		s.actionFailed(w, ns, name, err)
		return
	}
	s.toJob(w, r, ns, name)
}

// cancel cancels a job.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	ns, name, ok := s.actionTarget(w, r)
	if !ok {
		return
	}
	if _, err := sluicectl.Cancel(r.Context(), s.Sluice, ns, name, r.PostForm.Get("reason")); err != nil {
		s.actionFailed(w, ns, name, err)
		return
	}
	s.toJob(w, r, ns, name)
}

// rerun runs a finished job again, and shows the new job.
func (s *Server) rerun(w http.ResponseWriter, r *http.Request) {
	ns, name, ok := s.actionTarget(w, r)
	if !ok {
		return
	}
	job, err := sluicectl.Rerun(r.Context(), s.Sluice, ns, name, r.PostForm.Get("fromCurrentPipeline") == "true")
	if err != nil {
		s.actionFailed(w, ns, name, err)
		return
	}
	s.toJob(w, r, ns, job.Name)
}

// rollback rolls an environment of a pipeline back, and shows the new
// job.
func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	ns, name, ok := s.actionTarget(w, r)
	if !ok {
		return
	}
	job, err := sluicectl.Rollback(r.Context(), s.Sluice, ns, name, r.PostForm.Get("environment"), r.PostForm.Get("to"))
	if err != nil {
		s.actionFailed(w, ns, "", err)
		return
	}
	s.toJob(w, r, ns, job.Name)
}

// actionTarget is the namespace of an action's form and the object its
// path names.
func (s *Server) actionTarget(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	ns, err := s.namespace(r)
	if err != nil {
		s.render(w, http.StatusBadRequest, "refused", page{Title: "Bad request", Message: err.Error()})
		return "", "", false
	}
	return ns, r.PathValue("name"), true
}

// toJob sends the browser to the page of a job after an action.
func (s *Server) toJob(w http.ResponseWriter, r *http.Request, ns, job string) {
	http.Redirect(w, r, "/jobs/"+url.PathEscape(job)+"?"+url.Values{"namespace": {ns}}.Encode(), http.StatusSeeOther)
}

// actionFailed shows why an action failed, in the plugin's words, with
// the server's status code for a refusal: 403 when RBAC or the gate's
// approvers forbid it, 409 when the job is not in a state that allows
// it, 404, 422. A failure that is no answer of the server (it could not
// be reached) is 502; a refusal of the plugin's own (a gate at another
// step) 409.
func (s *Server) actionFailed(w http.ResponseWriter, ns, job string, err error) {
	code := sluicectl.HTTPStatus(err)
	switch {
	case code == 0 && isLocalRefusal(err):
		code = http.StatusConflict
	case code < 400 || code >= 500:
		code = http.StatusBadGateway
	}
	s.actionRefused(w, ns, job, code, sluicectl.ErrorMessage(err))
}

// isLocalRefusal is an action refused before the server was asked.
func isLocalRefusal(err error) bool {
	return strings.HasPrefix(err.Error(), "you cannot ")
}

// actionRefused shows a refused action's page, with a way back to the job.
func (s *Server) actionRefused(w http.ResponseWriter, ns, job string, code int, msg string) {
	s.render(w, code, "refused", page{Title: "Refused", Namespace: ns, Message: msg, Data: job})
}
