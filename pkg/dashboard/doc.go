// Package dashboard is the web page of kubectl sluice dashboard: the
// pipelines of a namespace with what each environment runs, the job
// history, a job's timeline, approval gate and live log, and the actions
// (approve, reject, cancel, rerun, roll back).
//
// # Design
//
// The server runs on the user's machine, in the plugin, with the user's
// clientsets: every request it makes to the cluster carries the user's
// kubeconfig credentials, so the page shows and does exactly what kubectl
// would let the user see and do, and RBAC stays the only authority. It
// holds no credentials of its own and no state but its secrets.
//
// Pages are rendered on the server with html/template from templates
// embedded in the binary, with one small JavaScript file and one CSS file,
// embedded too: no Node toolchain, no bundler, no CDN, and it works
// offline. Every page works without JavaScript; the script only adds the
// live updates, with EventSource on server-sent-event streams fed by
// watches made with the user's credentials (client-go's RetryWatcher,
// which goes on from the last version seen when kube-apiserver ends a
// watch), each from the version the page was made from:
//
//   - /events keeps the pipelines page and the jobs page up to date: a
//     job's row is sent when the job is added, changes or leaves, and a
//     pipeline's environments when it changes. Each event's id holds the
//     versions reached, which a reconnecting browser sends back
//     (Last-Event-ID).
//   - /jobs/NAME/events sends the job's timeline re-rendered on each
//     change of the job.
//   - /jobs/NAME/log streams the job's output while it runs, read by the
//     plugin's log follower (the Config's Logs), which reconnects after a
//     hiccup without repeating a line.
//
// The actions call the subresources kubectl sluice calls, through
// pkg/sluicectl, and a refusal is shown with the server's reason in the
// plugin's words ("you cannot approve x: <reason>"), with the server's
// 4xx status.
//
// The job history is listed as the server orders it (name order), a page
// of 50 at a time with limit and continue, the selections pushed down as
// the indexed label selectors and the status.phase field selector: the
// fast path on a namespace of a million jobs. A pipeline's last jobs are
// newest first, read as kubectl sluice list reads them
// (sluicectl.KeepNewest).
//
// # Security
//
// The server listens on 127.0.0.1 only, but any local user, and any web
// page the user's browser opens, can reach a loopback port. So:
//
//   - A random token of 32 bytes from crypto/rand, new each run, is in the
//     URL the command prints (http://127.0.0.1:PORT/?token=...). The first
//     request carrying it (compared in constant time) gets it back as a
//     cookie named after the port (a browser keeps one cookie of a name
//     per host, whatever the port, so two dashboards would otherwise log
//     each other out), HttpOnly, SameSite=Strict, Path=/, and a redirect to the
//     same URL without it, so that it does not stay in the address bar or
//     the history. Every other request needs the cookie, compared in
//     constant time; without it the answer is 403 and a page saying to
//     open the URL the command printed. Another local user cannot read
//     the token, so cannot drive the dashboard with the user's
//     credentials.
//   - The Host header must be 127.0.0.1:PORT or localhost:PORT, or the
//     answer is 421: a DNS rebinding attack, a hostile name resolving to
//     127.0.0.1, sends its own name as Host.
//   - Every action is a POST, and a GET never changes anything. A POST
//     needs a CSRF token and the dashboard's own Origin. The token is the
//     HMAC-SHA256, under a per-run secret of 32 random bytes, of the
//     action's path (a synchronizer token without server-side state): the
//     page that shows a form carries the token of its action, and a page
//     of another origin cannot read it (the same-origin policy) nor
//     compute it (the secret never leaves the server). The Origin header
//     (or, when a browser sends none, the Referer) must be the
//     dashboard's origin. SameSite=Strict already keeps the cookie off a
//     cross-site request; the token and the Origin check do not depend on
//     the browser honouring it.
//   - Every answer carries Content-Security-Policy "default-src 'self'"
//     (no inline script: the JavaScript is a file; no frames),
//     X-Frame-Options DENY, Referrer-Policy same-origin (no-referrer
//     would make a browser send "Origin: null" with the dashboard's own
//     forms, which the Origin check refuses) and
//     X-Content-Type-Options nosniff; pages and events carry Cache-Control
//     no-store.
package dashboard
