package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary play the reference proxy, as loadgen does
// when startRefProxy re-executes it.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == refProxyRole {
		if err := serveRefProxy(os.Args[2:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestReferencePairForwardsToTheApp runs the two reference proxies as
// processes in front of the echo app and echoes through them.
func TestReferencePairForwardsToTheApp(t *testing.T) {
	app, err := startEchoApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.close()
	ref, err := startRefPair(context.Background(), app.httpPort)
	if err != nil {
		t.Fatal(err)
	}
	c := newHTTPEcho(ref.a.port, "")
	for i := range 3 {
		if err := c.call(context.Background(), i); err != nil {
			t.Fatalf("echo %d through the reference proxies: %v", i, err)
		}
	}
	c.close()
	// The loads read each proxy's CPU from /proc by pid.
	for name, p := range map[string]*refProxy{"A": ref.a, "B": ref.b} {
		if _, err := procCPU(p.pid()); err != nil {
			t.Errorf("proxy %s's CPU: %v", name, err)
		}
	}
	if err := ref.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestServeRefProxyNeedsATarget(t *testing.T) {
	if err := serveRefProxy(nil); err == nil {
		t.Fatal("a reference proxy without a target port started")
	}
}
