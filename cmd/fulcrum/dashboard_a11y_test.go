package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The dashboard's accessibility checks, used by TestDashboard: an axe-core audit of what
// the page shows, and keyboard-only operation with a visible focus.

// axeEnv names the axe-core script (axe.min.js) that make test installs from npm into bin/
// (Makefile, AXE) and passes to the tests.
const axeEnv = "FULCRUM_AXE"

var axeScript = sync.OnceValues(func() ([]byte, error) {
	p := os.Getenv(axeEnv)
	if p == "" {
		return nil, fmt.Errorf("%s is not set: make test installs axe-core into bin/ and sets it", axeEnv)
	}
	return os.ReadFile(p)
})

// axeViolation is the part of an axe-core result the failure message needs.
type axeViolation struct {
	ID     string
	Impact string
	Help   string
	Nodes  []struct {
		Target  []string
		Summary string
	}
}

func (v axeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for i, n := range v.Nodes {
		if i == 5 {
			fmt.Fprintf(&b, "\n    … %d more", len(v.Nodes)-i)
			break
		}
		fmt.Fprintf(&b, "\n    %s: %s", strings.Join(n.Target, " "), strings.ReplaceAll(n.Summary, "\n", " "))
	}
	return b.String()
}

// axeProbe checks that the audit can fail: it adds a button without a name (axe-core's
// rule button-name, critical) and grey-on-white text (color-contrast, serious) to the
// page, expects audit to report both, and removes them.
func axeProbe(t *testing.T, tab context.Context) {
	t.Helper()
	const add = `(() => {
		const d = document.createElement('div');
		d.id = 'axe-probe';
		d.append(document.createElement('button'));
		const p = document.createElement('p');
		p.textContent = 'low contrast';
		p.style.color = '#bbb'; // through the CSSOM: the page's CSP refuses style attributes
		d.append(p);
		document.getElementById('main').append(d);
		return true;
	})()`
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](add)); err != nil {
		t.Fatalf("axe probe: %v", err)
	}
	serious, _, _ := axeRun(t, tab, "probe")
	if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`document.getElementById('axe-probe').remove()`)); err != nil {
		t.Fatalf("axe probe: %v", err)
	}
	found := strings.Join(serious, "\n")
	for _, id := range []string{"button-name (critical)", "color-contrast (serious)"} {
		if !strings.Contains(found, id) {
			t.Fatalf("axe probe: the audit missed %s in a page made to have it; it found:\n%s", id, found)
		}
	}
}

// audit runs axe-core's rules (WCAG 2.x A and AA and its best practices) on the page as it
// is now — hidden parts are not audited — and fails the test on any violation of impact
// serious or critical, listing them; lesser ones are logged.
func audit(t *testing.T, tab context.Context, what string) {
	t.Helper()
	start := time.Now()
	serious, lesser, review := axeRun(t, tab, what)
	t.Logf("axe-core, %s: audited in %v", what, time.Since(start).Round(time.Millisecond))
	if len(review) > 0 {
		t.Logf("axe-core, %s: %d rules it could not decide, for a person to check:\n  %s", what, len(review), strings.Join(review, "\n  "))
	}
	if len(lesser) > 0 {
		t.Logf("axe-core, %s: %d minor or moderate violations:\n  %s", what, len(lesser), strings.Join(lesser, "\n  "))
	}
	if len(serious) > 0 {
		t.Errorf("axe-core, %s: %d serious or critical accessibility violations:\n  %s", what, len(serious), strings.Join(serious, "\n  "))
	}
}

// axeRun injects axe-core into the page once and runs it: the violations of impact serious
// or critical, the others, and the results it could not decide (incomplete).
func axeRun(t *testing.T, tab context.Context, what string) (serious, lesser, review []string) {
	t.Helper()
	src, err := axeScript()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := chromedp.Run(tab, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err != nil {
		t.Fatalf("audit %s: %v", what, err)
	}
	if !loaded {
		// The page's CSP (default-src 'self') does not apply to DevTools' evaluation.
		if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](string(src)+"\n;0")); err != nil {
			t.Fatalf("audit %s: injecting axe-core: %v", what, err)
		}
	}
	const run = `axe.run(document, {resultTypes: ['violations', 'incomplete']}).then((r) => {
		const short = (vs) => vs.map((v) => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map((n) => ({target: n.target.map(String), summary: n.failureSummary || (n.any[0] || {}).message || ''})),
		}));
		return {violations: short(r.violations), incomplete: short(r.incomplete)};
	})`
	res, err := chromedp.Run(tab, chromedp.Evaluate[struct{ Violations, Incomplete []axeViolation }](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("audit %s: axe.run: %v", what, err)
	}
	for _, v := range res.Incomplete {
		review = append(review, v.String())
	}
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			serious = append(serious, v.String())
		} else {
			lesser = append(lesser, v.String())
		}
	}
	return serious, lesser, review
}

// focused describes the element that has the focus, as a keyboard user sees it.
type focused struct {
	Desc    string // tag, id, classes and text, for messages
	Match   bool   // it matches the selector asked for
	Visible bool   // it shows a focus indicator: an outline of 2px or more, or a box shadow
	Dialog  bool   // it is inside the open modal dialog
}

// focusJS returns the focused element's description; %s is the selector, as a JSON string.
const focusJS = `((sel) => {
	const e = document.activeElement;
	if (!e || e === document.body || e === document.documentElement) return {desc: 'nothing (body)', match: false, visible: false, dialog: false};
	const s = getComputedStyle(e);
	const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
	let desc = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.name ? '[name=' + e.name + ']' : '') + (e.value && e.type === 'checkbox' ? '[value=' + e.value + ']' : '');
	const text = (e.textContent || '').trim().slice(0, 30);
	if (text) desc += ' "' + text + '"';
	return {desc, match: sel !== '' && e.matches(sel), visible: ring && e.matches(':focus-visible'), dialog: !!e.closest('dialog[open]')};
})(%s)`

func focusOf(t *testing.T, tab context.Context, sel string) focused {
	t.Helper()
	f, err := chromedp.Run(tab, chromedp.Evaluate[focused](fmt.Sprintf(focusJS, jsonString(sel))))
	if err != nil {
		t.Fatalf("reading the focus: %v", err)
	}
	return f
}

// press sends keys (kb.Tab, kb.Enter, " ", kb.Escape, text) to whatever has the focus, as
// a keyboard does: keyDown, char and keyUp for each.
func press(t *testing.T, tab context.Context, keys string, opts ...chromedp.KeyOption) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.KeyEvent(keys, opts...)); err != nil {
		t.Fatalf("pressing %q: %v", keys, err)
	}
}

var shift = chromedp.KeyModifiers(chromedp.ModifierShift)

// tabTo presses Tab (Shift+Tab when back) until the focus is on an element matching sel,
// at most max times, and fails the test if it never gets there or if any element it
// stops at shows no focus indicator.
func tabTo(t *testing.T, tab context.Context, sel string, back bool, max int) {
	t.Helper()
	var path []string
	for range max {
		if back {
			press(t, tab, kb.Tab, shift)
		} else {
			press(t, tab, kb.Tab)
		}
		f := focusOf(t, tab, sel)
		path = append(path, f.Desc)
		if f.Desc != "nothing (body)" && !f.Visible {
			t.Fatalf("keyboard: the focus on %s is not visible (no outline or ring, or not :focus-visible)", f.Desc)
		}
		if f.Match {
			return
		}
	}
	t.Fatalf("keyboard: %s not reached with %d presses of %sTab; focus went through:\n  %s", sel, max,
		map[bool]string{true: "Shift+"}[back], strings.Join(path, "\n  "))
}

// mustFocus fails the test unless the focus is on an element matching sel.
func mustFocus(t *testing.T, tab context.Context, sel, why string) {
	t.Helper()
	if f := focusOf(t, tab, sel); !f.Match {
		t.Fatalf("keyboard: %s: the focus is on %s, want %s", why, f.Desc, sel)
	}
}

// trapped presses Tab n times, then Shift+Tab n times, in the open modal dialog, and fails
// the test if the focus ever leaves it or shows no indicator.
func trapped(t *testing.T, tab context.Context, n int) {
	t.Helper()
	for _, back := range []bool{false, true} {
		for i := range n {
			if back {
				press(t, tab, kb.Tab, shift)
			} else {
				press(t, tab, kb.Tab)
			}
			f := focusOf(t, tab, "")
			if !f.Dialog {
				t.Fatalf("keyboard: press %d of %sTab left the confirmation dialog: the focus is on %s", i+1,
					map[bool]string{true: "Shift+"}[back], f.Desc)
			}
			if !f.Visible {
				t.Fatalf("keyboard: the focus on %s in the dialog is not visible", f.Desc)
			}
		}
	}
}

// until polls js until it is true, for at most 30 s, and fails the test with where the
// focus is, the page's notice and console errors if it never is.
func until(t *testing.T, tab context.Context, errs *consoleErrors, what, js string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		f := focusOf(t, tab, "")
		notice, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('notice').textContent`))
		t.Fatalf("%s: %v (%s)\nfocus: %s\nnotice: %q\nconsole: %q", what, err, js, f.Desc, notice, errs.take())
	}
}

// jsonString quotes s for a script.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
