package webindex_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium or Chrome binary, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestServeInBrowser drives the search page in headless Chromium: type a
// query into the form, submit, read the results, follow "next".
func TestServeInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	browser := findChromium()
	if browser == "" {
		t.Skip("no chromium, chromium-browser or google-chrome on PATH: install chromium to run the browser test")
	}
	base := serve(t, buildTestIndex(t))

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
	defer cancelTimeout()

	run := func(a chromedp.Action[[]string]) []string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	titles := chromedp.Evaluate[[]string](`[...document.querySelectorAll("a.title")].map(a => a.textContent)`)
	marks := chromedp.Evaluate[[]string](`[...document.querySelectorAll(".snippet mark")].map(m => m.textContent)`)

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/?k=2"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "running"),
		chromedp.Submit(chromedp.CSS(`input[name=q]`)),
		chromedp.WaitVisible(chromedp.CSS(`li.hit`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	total, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.total`)))
	if err != nil {
		t.Fatal(err)
	}
	if got, gotMarks := run(titles), run(marks); total != "4" ||
		!slices.Equal(got, []string{"The SQLite Query Optimizer Overview", "SELECT"}) ||
		!slices.Equal(gotMarks, []string{"run", "Running"}) {
		t.Fatalf("page 1: total %q, titles %q, marks %q", total, got, gotMarks)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(loc, "q=running") || !strings.Contains(loc, "k=2") {
		t.Fatalf("the form went to %s (%v)", loc, err)
	}

	// "next" leads to the last two hits and has no "next" of its own.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a.next`)),
		chromedp.WaitVisible(chromedp.CSS(`a.prev`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(titles); !slices.Equal(got, []string{"The Virtual Table Mechanism", "FTS5 <Full-Text>\tSearch"}) {
		t.Fatalf("page 2: titles %q", got)
	}
	next, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("a.next").length`))
	if err != nil || next != 0 {
		t.Fatalf("page 2 has a next link (%d, %v)", next, err)
	}
}
