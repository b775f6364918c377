// Package joblog assembles what pipelinejobs/log shows of a job's output.
// Each action's output is a sequence of lines, each prefixed with the RFC
// 3339 time the kubelet recorded for it (as pods/log?timestamps=true gives
// it, and as the archive keeps it), so that one stored form answers
// sinceSeconds, tailLines and timestamps alike. This package holds the
// rules for that form: the header that introduces each action, the line
// filter, and the byte limit over the whole answer.
package joblog
