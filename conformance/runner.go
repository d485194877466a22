package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// Runner plays vectors against a live server: it sends request k as binary
// TTLV, reads the reply and compares it with response k. Within a series
// (rule series) it remembers which objects the server generated from one
// file to the next, so run a series's files on one Runner, in order. A
// Runner is not safe for concurrent use.
type Runner struct {
	// Dial opens a connection to the server (mutual TLS in practice). Each
	// vector gets its own connection. Required.
	Dial func(ctx context.Context) (net.Conn, error)
	// Names spells tags and enumerations; nil means kmip.NewNames().
	Names *kmip.Names
	// Timeout bounds one request and its response. Default 2 minutes:
	// generating RSA keys in a software HSM under the race detector is
	// slow.
	Timeout time.Duration
	// Slack widens the $NOW window (rule placeholder-now). Default 10s.
	Slack time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Limits bound the responses read. Zero fields: ttlv defaults.
	Limits ttlv.Limits

	// series is the series of the last vector run; objects is what its
	// files learnt about the server's objects.
	series  string
	objects map[string]objectFacts
}

// Result is the outcome of one vector.
type Result struct {
	// Name is "set/ID"; ID, Set and Version are the vector's.
	Name, ID, Set string
	Version       kmip.ProtocolVersion
	// Passed is true when every response matched.
	Passed bool
	// Steps is the number of request/response pairs; Step is the 1-based
	// step that failed (0 when passed, or when the run failed before the
	// first step).
	Steps, Step int
	// Line is the vector file's line of the response that differed.
	Line int
	// Operations are the operations of the failed step's request.
	Operations []kmip.Operation
	// Difference is the first difference, or the error that stopped the
	// run; Rule is the rule it was found under ("" for exact).
	Difference, Rule string
	// Rules lists the relaxations and quirk rules the run applied.
	Rules []string
	// Duration is the wall time of the run.
	Duration time.Duration
}

func (r *Runner) names() *kmip.Names {
	if r.Names == nil {
		r.Names = kmip.NewNames()
	}
	return r.Names
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run plays v and reports how it went. It never panics on a bad vector or
// a bad response: both are a failed Result.
func (r *Runner) Run(ctx context.Context, v *Vector) (res Result) {
	names := r.names()
	start := r.now()
	res = Result{Name: v.Name(), ID: v.ID, Set: v.Set, Version: v.Version, Steps: len(v.Steps)}
	b := newBindings()
	if v.Series != "" && !v.SeriesStart && v.Series == r.series {
		b.objects = r.objects
	}
	r.series, r.objects = v.Series, b.objects
	defer func() {
		res.Duration = r.now().Sub(start)
		used := slices.Clone(v.Quirks)
		for id := range b.used {
			used = append(used, id)
		}
		slices.Sort(used)
		res.Rules = slices.Compact(used)
	}()
	fail := func(step int, rule, format string, args ...any) Result {
		res.Step, res.Rule = step, rule
		res.Difference = b.labelIDs(fmt.Sprintf(format, args...))
		if step > 0 {
			res.Line = v.Steps[step-1].ResponseLine
			res.Operations = v.Steps[step-1].Operations
		}
		return res
	}
	if r.Dial == nil {
		return fail(0, "", "runner has no Dial function")
	}
	conn, err := r.Dial(ctx)
	if err != nil {
		return fail(0, "", "connect: %v", err)
	}
	defer func() { _ = conn.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	slack := r.Slack
	if slack <= 0 {
		slack = 10 * time.Second
	}
	for k := range v.Steps {
		step := &v.Steps[k]
		var hookErr error
		req, err := ttlv.XMLOptions{
			Names: names,
			Placeholder: func(tag ttlv.Tag, typ ttlv.Type, s string) (ttlv.Value, bool, error) {
				val, err := b.resolve(tag, typ, s, r.now())
				if err != nil {
					hookErr = err
					return ttlv.Value{}, false, err
				}
				return val, true, nil
			},
		}.Unmarshal(step.Request)
		if err != nil {
			if hookErr != nil {
				err = hookErr
			}
			return fail(k+1, "", "request (line %d): %v", step.RequestLine, err)
		}
		if len(v.EchoedTimes) > 0 {
			req = b.echoClock(req, v.EchoedTimes)
		}
		_ = conn.SetDeadline(time.Now().Add(timeout))
		if _, err := conn.Write(ttlv.Marshal(req)); err != nil {
			return fail(k+1, "", "send request: %v", ctxErr(ctx, err))
		}
		msg, err := ttlv.ReadMessage(conn, nil, r.Limits)
		if err != nil {
			return fail(k+1, "", "read response: %v", ctxErr(ctx, err))
		}
		// The decoded response aliases msg and the bindings keep values
		// of it: every response has its own buffer (nil above).
		got, err := ttlv.Decode(msg, r.Limits)
		if err != nil {
			return fail(k+1, "", "decode response: %v", err)
		}
		want, err := parseExpected(step.Response, names)
		if err != nil {
			return fail(k+1, "", "expected response (line %d): %v", step.ResponseLine, err)
		}
		c := &comparer{names: names, b: b, vec: v, step: step, start: start, now: r.now(), slack: slack}
		d := c.message(want, got, req)
		b = c.b // trial comparisons replace the bindings they keep
		if d != nil {
			return fail(k+1, d.Rule, "%s", d.String())
		}
	}
	res.Passed = true
	return res
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no response within the timeout: %w", err)
	}
	return err
}
