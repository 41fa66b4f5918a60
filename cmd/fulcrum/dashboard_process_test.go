package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
)

// chromiumPath is Debian's chromium, which make test installs (Makefile, target chromium).
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is under the build folder (bin/, git-ignored); tests run in cmd/fulcrum.
var screenshotDir = filepath.Join("..", "..", "bin", "screenshots")

// browser starts a headless Chromium on a fresh profile and returns a tab's context. It
// fails, never skips, when Chromium is missing or cannot start.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("no Chromium at %s (make test installs it: make chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	// Every wait below is bounded by this deadline too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	tab, tcancel := chromedp.NewContext(actx)
	t.Cleanup(tcancel)
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("Chromium does not start: %v", err)
	}
	return tab
}

// consoleErrors collects the page's console.error calls and uncaught exceptions.
type consoleErrors struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleErrors) listen(t *testing.T, tab context.Context) {
	t.Helper()
	err := chromedp.Listen(tab, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console.error: " + strings.Join(parts, " ")
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		default:
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, msg)
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (c *consoleErrors) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.msgs
	c.msgs = nil
	return out
}

// run runs the actions and fails the test with what the page logged if one fails.
func run(t *testing.T, tab context.Context, what string, errs *consoleErrors, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, steps...); err != nil {
		notice, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('notice').textContent`))
		t.Fatalf("%s: %v\nnotice: %q\nconsole: %q", what, err, notice, errs.take())
	}
}

func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// seedFleet registers 12 proxies on 12 hosts, a cluster of 4 nodes whose first proxy is
// reported and failed over (so one proxy is failed), a cluster grown from 4 to 8 nodes
// with its slot migration started (tasks in flight), and a failure report on a free proxy.
// It returns the global epoch and that free proxy.
func seedFleet(t *testing.T, e endpoint, token string) (epoch, reported string) {
	t.Helper()
	for i := 1; i <= 12; i++ {
		e.must(token, "POST", "/api/v3/proxies/meta", fmt.Sprintf(
			`{"proxy_address":"10.0.0.%d:6001","nodes":["10.0.0.%d:7001","10.0.0.%d:7002"]}`, i, i, i))
	}
	e.must(token, "POST", "/api/v3/clusters/meta/orders-cache", `{"node_number":4}`)
	var view struct {
		Cluster struct {
			Nodes []struct {
				ProxyAddress string `json:"proxy_address"`
			}
		}
	}
	if err := json.Unmarshal(e.must(token, "GET", "/api/v3/clusters/meta/orders-cache", ""), &view); err != nil || len(view.Cluster.Nodes) == 0 {
		t.Fatalf("cluster view: %v %+v", err, view)
	}
	failed := view.Cluster.Nodes[0].ProxyAddress
	e.must(token, "POST", "/api/v3/failures/"+failed+"/coordinator-1", "")
	e.must(token, "POST", "/api/v3/proxies/failover/"+failed, "")
	e.must(token, "POST", "/api/v3/clusters/meta/sessions", `{"node_number":4}`)
	e.must(token, "PATCH", "/api/v3/clusters/nodes/sessions", `{"node_number":4}`)
	e.must(token, "POST", "/api/v3/clusters/migrations/expand/sessions", "")
	var md struct {
		AllProxies map[string]struct{ Cluster *string } `json:"all_proxies"`
	}
	if err := json.Unmarshal(e.must(token, "GET", "/api/v3/metadata", ""), &md); err != nil {
		t.Fatal(err)
	}
	for addr, p := range md.AllProxies {
		if p.Cluster == nil && addr != failed {
			reported = addr
			break
		}
	}
	e.must(token, "POST", "/api/v3/failures/"+reported+"/coordinator-2", "")
	return strings.TrimSpace(string(e.must(token, "GET", "/api/v3/epoch", ""))), reported
}

// TestDashboard drives the dashboard in a real headless Chromium against bin/fulcrum with
// a token file, a seeded broker and the real test Kafka: both views load without console
// errors and show the seeded clusters and brokers; a throttled plan is proposed, executed
// and cancelled from the page with the keyboard alone (dashboard_a11y_test.go: every
// focus visible, the confirmation trapping and returning the focus), and a plan for a
// skewed topic is proposed, executed and watched to the end. axe-core audits each view
// on the way and fails the test on a serious or critical violation. Screenshots go to
// bin/screenshots.
func TestDashboard(t *testing.T) {
	if _, err := axeScript(); err != nil {
		t.Fatal(err)
	}
	boot := kafkatest.Exclusive(t) // the plan moves replicas: no other test may plan meanwhile
	cl := kafkatest.Client(t, boot)
	t.Cleanup(func() { kafkatest.Healthy(t, cl) })
	topic := kafkatest.Name("dash")
	kafkatest.CreateTopic(t, cl, topic, [][]int32{{1}, {1}, {1}, {1}})
	for p := range int32(4) {
		kafkatest.Fill(t, cl, topic, p, 256<<10)
	}
	// A topic whose plan copies 4 MiB at 128 KiB/s (more than Kafka's unthrottled first
	// fetch of 1 MiB): it runs long enough to be cancelled from the page.
	slow := kafkatest.Name("dashcancel")
	kafkatest.CreateTopic(t, cl, slow, [][]int32{{1}, {1}})
	for p := range int32(2) {
		kafkatest.Fill(t, cl, slow, p, 4<<20)
	}
	const token = "dashboard-test-token"
	t.Setenv("FULCRUM_KAFKA_BOOTSTRAP", strings.Join(boot, ","))
	p := startFulcrum(t, t.TempDir(), freeAddr(t), "--auth-token-file", tokenFile(t, token))
	api := endpoint{t, p.base, client}
	epoch, reported := seedFleet(t, api, token)
	var layout struct{ Brokers []struct{ ID int32 } }
	if err := json.Unmarshal(api.must(token, "GET", "/balancer/layout", ""), &layout); err != nil || len(layout.Brokers) == 0 {
		t.Fatalf("GET /balancer/layout: %v %+v", err, layout)
	}

	tab := browser(t)
	errs := &consoleErrors{}
	errs.listen(t, tab)
	run(t, tab, "probe the console listener", errs, chromedp.Navigate("about:blank"))
	if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`console.error("probe")`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the probe console error", func() bool {
		errs.mu.Lock()
		defer errs.mu.Unlock()
		return len(errs.msgs) == 1
	})
	errs.take()

	// Fleet view. The token goes in the field, typed and submitted with the keyboard alone
	// (the first Tab lands on the skip link, shown while focused); it must stay out of the
	// URL.
	run(t, tab, "load the page", errs, chromedp.Navigate(p.base+"/ui/"), chromedp.WaitVisible(`#token`))
	tabTo(t, tab, `a.skip`, false, 1)
	if on, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => { const r = document.querySelector('a.skip').getBoundingClientRect(); return r.left >= 0 && r.top >= 0 && r.width > 0; })()`)); err != nil || !on {
		t.Errorf("keyboard: the focused skip link is not on screen (%v)", err)
	}
	tabTo(t, tab, `#token`, false, 5)
	press(t, tab, token)
	press(t, tab, kb.Enter)
	run(t, tab, "load the fleet view", errs,
		chromedp.WaitVisible(`[data-cluster="orders-cache"]`),
		chromedp.WaitVisible(`[data-cluster="sessions"]`),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById('global-epoch').textContent === %q`, epoch), chromedp.WithPollingTimeout(20*time.Second)),
	)
	for _, check := range []struct{ what, js string }{
		{"token kept for the session only", fmt.Sprintf(`sessionStorage.getItem('fulcrum.token') === %q && localStorage.length === 0`, token)},
		{"token not in the URL", fmt.Sprintf(`!location.href.includes(%q)`, token)},
		{"12 proxies in 12 host columns", `document.querySelectorAll('.host').length === 12 && document.querySelectorAll('.proxy').length === 12`},
		{"one failed proxy", `document.querySelectorAll('.proxy.failed').length === 1 && document.getElementById('failed').textContent.includes(':6001')`},
		{"free proxies shown", `document.querySelectorAll('.proxy.free').length === 5`},
		{"roles of the nodes", `document.querySelectorAll('.proxy .role.master').length === 6 && document.querySelectorAll('.proxy .role.replica').length === 6`},
		{"failure report of a free proxy", fmt.Sprintf(`document.getElementById('failures').textContent.includes('coordinator-2') && document.querySelector('.proxy.free[data-proxy=%q] .badge.bad') !== null`, reported)},
		{"slot bars per master", `document.querySelectorAll('[data-cluster="orders-cache"] .slotbar').length === 2`},
		{"migration in flight", `document.querySelectorAll('[data-cluster="sessions"] .slotbar span.migrating').length > 0 && document.querySelector('[data-cluster="sessions"] .migrations progress') !== null && document.querySelector('[data-cluster="sessions"] .badge').textContent === 'migrating'`},
		{"stable cluster", `document.querySelector('[data-cluster="orders-cache"] .badge').textContent === 'stable'`},
		{"no error notice", `document.getElementById('notice').textContent === ''`},
		// The host columns scroll inside their row; the page itself never scrolls sideways.
		{"no sideways scroll", `document.documentElement.scrollWidth <= window.innerWidth`},
	} {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](check.js))
		if err != nil || !ok {
			t.Errorf("fleet view: %s: %v (%s)", check.what, err, check.js)
		}
	}
	axeProbe(t, tab)
	audit(t, tab, "fleet view")
	screenshot(t, tab, "fleet.png")
	run(t, tab, "phone width", errs, chromedp.EmulateViewport(390, 844), chromedp.WaitVisible(`[data-cluster="sessions"]`))
	screenshot(t, tab, "fleet-phone.png")
	run(t, tab, "laptop width", errs, chromedp.EmulateViewport(1280, 900))
	// Live refresh: a cluster created now appears without a reload, with the new epoch.
	api.must(token, "POST", "/api/v3/clusters/meta/live-added", `{"node_number":4}`)
	epoch = strings.TrimSpace(string(api.must(token, "GET", "/api/v3/epoch", "")))
	run(t, tab, "live refresh", errs,
		chromedp.WaitVisible(`[data-cluster="live-added"]`),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById('global-epoch').textContent === %q`, epoch), chromedp.WithPollingTimeout(20*time.Second)),
		// The filter narrows the cluster cards as it is typed.
		chromedp.SendKeys(`#cluster-filter`, "sess"),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#clusters .cluster')].map(c => c.dataset.cluster).join() === 'sessions'`, chromedp.WithPollingTimeout(20*time.Second)),
	)

	// Kafka view: the brokers, then a plan for the skewed topic (all on broker 1). The
	// test Kafka shares this machine's disk: the disk usage bound is lifted, as in the
	// other balancer tests.
	// The views switch with the keyboard: back from the filter to the link, then Enter.
	tabTo(t, tab, `#nav-kafka`, true, 20)
	press(t, tab, kb.Enter)
	run(t, tab, "load the Kafka view", errs,
		chromedp.WaitVisible(fmt.Sprintf(`[data-broker="%d"]`, layout.Brokers[len(layout.Brokers)-1].ID)),
		chromedp.WaitVisible(fmt.Sprintf(`#topics input[value=%q]`, topic)),
	)
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#brokers .broker').length`)); err != nil || n != len(layout.Brokers) {
		t.Errorf("brokers shown: %d (%v), want %d", n, err, len(layout.Brokers))
	}
	// First a throttled plan, cancelled while it copies, all with the keyboard: tick the
	// topic (Space), fill two fields, submit (Enter on Propose); open the confirmation
	// (Enter on Execute), whose focus stays in it and goes back to Execute on Escape; open
	// it again, type the throttle and confirm.
	tabTo(t, tab, fmt.Sprintf(`#topics input[value=%q]`, slow), false, 1000) // other tests' topics too
	press(t, tab, " ")
	tabTo(t, tab, `#propose input[name=maxDiskUsage]`, false, 1000)
	press(t, tab, "1")
	tabTo(t, tab, `#propose input[name=seed]`, false, 5)
	press(t, tab, "1")
	tabTo(t, tab, `#propose-submit`, false, 5)
	press(t, tab, kb.Enter)
	run(t, tab, "propose a plan to cancel", errs,
		chromedp.WaitVisible(`#plan-changes table`),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('#plan-changes tbody tr')?.textContent.startsWith(%q) && document.querySelector('#propose input[name=seed]').value === '1' && document.querySelector('#propose input[name=maxDiskUsage]').value === '1'`, slow), chromedp.WithPollingTimeout(time.Minute)),
	)
	audit(t, tab, "Kafka view with a proposal")
	tabTo(t, tab, `#execute`, false, 20)
	press(t, tab, kb.Enter)
	until(t, tab, errs, "the confirmation opens", `document.getElementById('confirm').open`)
	mustFocus(t, tab, `#throttle`, "the confirmation opens on its first field")
	trapped(t, tab, 4)
	press(t, tab, kb.Escape)
	until(t, tab, errs, "Escape closes the confirmation", `!document.getElementById('confirm').open`)
	mustFocus(t, tab, `#execute`, "after Escape the focus goes back to the button that opened the dialog")
	if body := api.must(token, "GET", "/balancer/plans", ""); !strings.Contains(string(body), `"plans":[]`) {
		t.Fatalf("Escape in the confirmation executed a plan: %s", body)
	}
	press(t, tab, kb.Enter)
	until(t, tab, errs, "the confirmation opens again", `document.getElementById('confirm').open`)
	mustFocus(t, tab, `#throttle`, "the confirmation opens on its first field")
	press(t, tab, "128KiB")
	tabTo(t, tab, `#confirm-ok`, false, 2)
	press(t, tab, kb.Enter)
	until(t, tab, errs, "the plan runs", `!document.getElementById('confirm').open && !document.getElementById('run-cancel').hidden`)
	// The focus moves to the plan's status, which Tab leaves for its Cancel button.
	until(t, tab, errs, "the focus on the running plan", `document.activeElement?.id === 'run-status'`)
	audit(t, tab, "Kafka view with a plan running")
	cancelled, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('#running .run').dataset.token`))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Done     bool
		Throttle int64
	}
	if err := json.Unmarshal(api.must(token, "GET", "/balancer/"+cancelled, ""), &st); err != nil || st.Done || st.Throttle != 128<<10 {
		t.Fatalf("the plan to cancel: %+v %v, want running with a throttle of 128 KiB/s", st, err)
	}
	// Cancel with the keyboard: the dialog opens on the harmless choice, and Space on the
	// confirming button cancels; once the plan ends the focus is on its status, not lost.
	tabTo(t, tab, `#run-cancel`, false, 3)
	press(t, tab, kb.Enter)
	until(t, tab, errs, "the cancel confirmation opens", `document.getElementById('confirm').open`)
	mustFocus(t, tab, `#confirm-back`, "the cancel confirmation opens on the button that keeps the plan")
	trapped(t, tab, 3)
	tabTo(t, tab, `#confirm-ok`, false, 2)
	press(t, tab, " ")
	until(t, tab, errs, "the plan cancelled", `document.getElementById('run-phase')?.textContent === 'cancelled'`)
	until(t, tab, errs, "the focus on the ended plan", `document.activeElement?.id === 'run-status'`)
	if st := planStatusOf(t, p, cancelled); st.Phase != "cancelled" {
		t.Fatalf("after Cancel in the page: %+v", st)
	}

	// Then the plan for the other topic, executed to the end without a throttle.
	run(t, tab, "propose a plan", errs,
		chromedp.Click(fmt.Sprintf(`#topics input[value=%q]`, slow)),
		chromedp.Click(fmt.Sprintf(`#topics input[value=%q]`, topic)),
		chromedp.Click(`#propose-submit`),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById('propose-state').textContent.startsWith('Plan ready') && document.querySelector('#plan-changes tbody tr')?.textContent.startsWith(%q)`, topic), chromedp.WithPollingTimeout(time.Minute)),
	)
	for _, check := range []struct{ what, js string }{
		{"changes listed", fmt.Sprintf(`document.querySelectorAll('#plan-changes tbody tr').length > 0 && [...document.querySelectorAll('#plan-changes tbody tr')].every(r => r.textContent.startsWith(%q))`, topic)},
		{"before/after bars per broker", fmt.Sprintf(`document.querySelectorAll('#plan-brokers .bar').length === %d`, len(layout.Brokers))},
		{"bars per directory", `document.querySelectorAll('#plan-dirs .bar').length > 0`},
		// Moves keep every byte and every preferred leader somewhere, and the plan takes
		// bytes and leadership off broker 1, which holds the whole topic.
		{"after-bars add up", `['#plan-brokers', '#plan-leaders', '#plan-dirs'].every(c => {
			const bars = [...document.querySelectorAll(c + ' .bar')];
			const sum = k => bars.reduce((n, b) => n + Number(b.dataset[k]), 0);
			return sum('before') === sum('after');
		})`},
		{"broker 1 unloaded", `['#plan-brokers', '#plan-leaders'].every(c => {
			const b = document.querySelector(c + ' .bar');
			return b.textContent.startsWith('broker 1') && Number(b.dataset.after) < Number(b.dataset.before);
		})`},
		{"cost and bytes", `['Cost before', 'Cost after', 'Bytes moved'].every(k => document.getElementById('plan-summary').textContent.includes(k))`},
	} {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](check.js))
		if err != nil || !ok {
			t.Errorf("plan: %s: %v (%s)", check.what, err, check.js)
		}
	}
	run(t, tab, "open the confirmation", errs,
		chromedp.Click(`#execute`),
		chromedp.WaitVisible(`#confirm-ok`),
		chromedp.Poll[chromedp.Void](`document.getElementById('throttle').value === ''`, chromedp.WithPollingTimeout(5*time.Second)),
	)
	audit(t, tab, "confirmation dialog")
	run(t, tab, "execute the plan", errs,
		chromedp.Click(`#confirm-ok`),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('#running .run')?.dataset.token !== %q`, cancelled), chromedp.WithPollingTimeout(time.Minute)),
	)
	screenshot(t, tab, "kafka-running.png")
	phase, err := chromedp.Run(tab, chromedp.Poll[string](
		`['executed', 'failed', 'cancelled'].includes(document.getElementById('run-phase')?.textContent) && document.getElementById('run-phase').textContent`,
		chromedp.WithPollingTimeout(3*time.Minute), chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil || phase != "executed" {
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('running').textContent`))
		t.Fatalf("the plan did not end executed: %q %v\n%s\n%s", phase, err, text, p.log)
	}
	run(t, tab, "plans listed", errs,
		chromedp.Poll[chromedp.Void](`document.querySelector('#plans .phase-executed') !== null`, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Poll[chromedp.Void](`document.getElementById('notice').textContent === ''`, chromedp.WithPollingTimeout(20*time.Second)),
	)
	audit(t, tab, "Kafka view after a plan ran")
	screenshot(t, tab, "kafka.png")
	// A plan of the list opens with the keyboard: its status shows above, with the focus.
	tabTo(t, tab, fmt.Sprintf(`#plans button[data-token=%q]`, cancelled), false, 20)
	press(t, tab, kb.Enter)
	until(t, tab, errs, "the cancelled plan opened from the list", fmt.Sprintf(`document.querySelector('#running .run')?.dataset.token === %q && document.getElementById('run-phase').textContent === 'cancelled' && document.activeElement?.id === 'run-status'`, cancelled))
	// And back to the fleet view with the keyboard.
	tabTo(t, tab, `#nav-fleet`, true, 2000)
	press(t, tab, kb.Enter)
	until(t, tab, errs, "back to the fleet view", `location.hash === '#fleet' && !document.getElementById('fleet').hidden && document.getElementById('kafka').hidden`)

	var plans struct{ Plans []planStatus }
	if err := json.Unmarshal(api.must(token, "GET", "/balancer/plans", ""), &plans); err != nil || len(plans.Plans) != 2 || plans.Plans[1].Phase != "executed" {
		t.Fatalf("GET /balancer/plans: %v %+v", err, plans)
	}
	if msgs := errs.take(); len(msgs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(msgs, "\n"))
	}
}
