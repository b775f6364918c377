package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// LogReader writes the output of a job to out, as kubectl sluice logs
// prints it (each action's output after its header): with follow, until
// the job has ended and all its output is written; else what there is
// now. kubectl sluice gives its log follower, which reads
// pipelinejobs/log with the user's credentials and reconnects after a
// broken stream without repeating a line.
type LogReader func(ctx context.Context, namespace, job string, follow bool, out io.Writer) error

// Config is what a Server is made of.
type Config struct {
	// Sluice and Kube are the user's clientsets: the dashboard acts with
	// the user's credentials and nothing else.
	Sluice sluiceclient.Interface
	Kube   kubernetes.Interface
	// Namespace is shown when a request names none.
	Namespace string
	// Logs reads a job's output.
	Logs LogReader
	// Addr is the host:port the server listens on, 127.0.0.1:PORT: the
	// only Host (with localhost:PORT) it answers to, and its origin.
	Addr string
}

// Server serves the dashboard.
type Server struct {
	Config
	// token lets a browser in: in the printed URL, then in a cookie.
	token string
	// csrfSecret keys the CSRF tokens of the actions.
	csrfSecret []byte
	// cookieName is the token's cookie, named after the port.
	cookieName string
	// origins are http://127.0.0.1:PORT and http://localhost:PORT.
	origins []string
	pages   map[string]*template.Template
}

// NewServer makes a Server with new random secrets.
func NewServer(cfg Config) (*Server, error) {
	port := cfg.Addr[strings.LastIndex(cfg.Addr, ":")+1:]
	if !strings.HasPrefix(cfg.Addr, "127.0.0.1:") || port == "" {
		return nil, fmt.Errorf("the dashboard listens on 127.0.0.1 only, not on %q", cfg.Addr)
	}
	if cfg.Sluice == nil || cfg.Logs == nil {
		return nil, errors.New("the dashboard needs the user's sluice clientset and a log reader")
	}
	token, err := randomSecret(32)
	if err != nil {
		return nil, err
	}
	secret, err := randomSecret(32)
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, token: token, csrfSecret: []byte(secret), cookieName: cookiePrefix + port,
		origins: []string{"http://127.0.0.1:" + port, "http://localhost:" + port}}
	if s.pages, err = s.parseTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

// URL is the address to open, with the token that lets a browser in.
func (s *Server) URL() string {
	return s.origins[0] + "/?token=" + s.token
}

// Handler serves the dashboard's pages, events, actions and files.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.pipelinesPage)
	mux.HandleFunc("GET /jobs", s.jobsPage)
	mux.HandleFunc("GET /jobs/{name}", s.jobPage)
	mux.HandleFunc("GET /jobs/{name}/events", s.jobEvents)
	mux.HandleFunc("GET /jobs/{name}/log", s.logEvents)
	mux.HandleFunc("GET /events", s.listEvents)
	mux.HandleFunc("POST /jobs/{name}/approve", s.decide)
	mux.HandleFunc("POST /jobs/{name}/reject", s.decide)
	mux.HandleFunc("POST /jobs/{name}/cancel", s.cancel)
	mux.HandleFunc("POST /jobs/{name}/rerun", s.rerun)
	mux.HandleFunc("POST /pipelines/{name}/rollback", s.rollback)
	return s.secure(mux)
}

// page is what every template is given.
type page struct {
	Title     string
	Namespace string
	// Namespaces are those the user may list, for the switch; empty when
	// they may not.
	Namespaces []string
	// Message is an error or refusal to show.
	Message string
	// Live is the URL of the event stream that keeps the page up to
	// date; empty for a page that does not follow changes.
	Live string
	Data any
}

// parseTemplates parses each page with the layout.
func (s *Server) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"csrf":     s.csrfToken,
		"csrfName": func() string { return csrfField },
		"time":     formatTime,
		"duration": formatDuration,
		"phase":    phaseClass,
		"lastJobs": func() int { return lastJobs },
		"environments": func(ns, pipeline string, envs []environmentView) environmentsFragment {
			return environmentsFragment{Namespace: ns, Pipeline: pipeline, Environments: envs}
		},
		"release": func(ns string, r *v1alpha1.Release) any {
			return struct {
				Namespace string
				Release   *v1alpha1.Release
			}{ns, r}
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fragments.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"pipelines", "jobs", "job", "refused"} {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page with the status code; a page that cannot be
// rendered is a bug, logged, and a plain 500.
func (s *Server) render(w http.ResponseWriter, code int, name string, p page) {
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		klog.ErrorS(err, "Rendering a dashboard page", "page", name)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// namespace is the namespace a request names (?namespace= or the form's
// namespace), else the default one.
func (s *Server) namespace(r *http.Request) (string, error) {
	ns := r.FormValue("namespace")
	if ns == "" {
		return s.Namespace, nil
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "", fmt.Errorf("namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	return ns, nil
}

// formatTime is a time in UTC, as describe prints it; "-" for none.
func formatTime(t any) string {
	if tt := toTime(t); !tt.IsZero() {
		return tt.UTC().Format(time.RFC3339)
	}
	return "-"
}

// toTime is the time of the API's time types; zero for nil.
func toTime(t any) time.Time {
	switch v := t.(type) {
	case time.Time:
		return v
	case metav1.Time:
		return v.Time
	case *metav1.Time:
		if v != nil {
			return v.Time
		}
	case *metav1.MicroTime:
		if v != nil {
			return v.Time
		}
	}
	return time.Time{}
}

// formatDuration is how long from start to end, or "-".
func formatDuration(start, end any) string {
	a, b := toTime(start), toTime(end)
	if a.IsZero() || b.IsZero() {
		return "-"
	}
	return b.Sub(a).Round(time.Second).String()
}

// phaseClass is the CSS class of a phase; the phase is always shown as
// text too.
func phaseClass(p any) string {
	return "phase phase-" + strings.ToLower(fmt.Sprint(p))
}
