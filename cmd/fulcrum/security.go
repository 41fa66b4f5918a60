package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/httpapi"
)

// securityFlags adds the flags of README's "Security" section.
func securityFlags(fs *flag.FlagSet, c *serveConfig) {
	fs.StringVar(&c.authTokenFile, "auth-token-file", "", "file of bearer tokens, one a line (reread on SIGHUP); when set, changes need a token")
	c.coordinatorNetworks = httpapi.LoopbackNetworks
	fs.Func("coordinator-networks", "CIDR list whose clients may make a coordinator's calls without a token (default 127.0.0.0/8,::1/128)", func(v string) error {
		n, err := httpapi.ParseNetworks(v)
		if err != nil {
			return err
		}
		c.coordinatorNetworks = n
		return nil
	})
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate (chain) for HTTPS on --listen; with --tls-key; reread on SIGHUP")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.coordinatorListen, "coordinator-listen", "", "optional plain-HTTP address serving only an undermoon coordinator's calls")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go profiles at /debug/pprof/")
	fs.BoolVar(&c.replica, "replica", false, "this instance is a replica: refuse every broker change but the master's PUT /metadata push")
}

func (c *serveConfig) checkSecurity() error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.coordinatorListen != "" && c.coordinatorListen == c.listen {
		return errors.New("--coordinator-listen must differ from --listen")
	}
	return nil
}

// security is what the security flags load: tokens and certificate, both reloadable.
type security struct {
	tokens *httpapi.Tokens // nil: no authentication
	cert   atomic.Pointer[tls.Certificate]
	c      *serveConfig
}

func loadSecurity(c *serveConfig) (*security, error) {
	sec := &security{c: c}
	if c.authTokenFile != "" {
		t, err := httpapi.LoadTokens(c.authTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--auth-token-file: %w", err)
		}
		sec.tokens = t
	}
	if c.tlsCert != "" {
		if err := sec.loadCert(); err != nil {
			return nil, err
		}
	}
	return sec, nil
}

func (sec *security) loadCert() error {
	cert, err := tls.LoadX509KeyPair(sec.c.tlsCert, sec.c.tlsKey)
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	sec.cert.Store(&cert)
	return nil
}

// replicationToken is what the replicator sends its replicas: the first token, if any.
func (sec *security) replicationToken() string {
	if sec.tokens == nil {
		return ""
	}
	return sec.tokens.First()
}

// reload rereads the token file and the certificate (SIGHUP). What fails to load is
// logged and the old one stays in use, so a bad edit does not lock everyone out.
func (sec *security) reload(log zerolog.Logger) {
	if sec.tokens != nil {
		if err := sec.tokens.Reload(); err != nil {
			log.Error().Err(err).Msg("SIGHUP: token file not reloaded; the previous tokens stay in use")
		} else {
			log.Info().Int("tokens", sec.tokens.Count()).Msg("SIGHUP: token file reloaded")
		}
	}
	if sec.c.tlsCert != "" {
		if err := sec.loadCert(); err != nil {
			log.Error().Err(err).Msg("SIGHUP: certificate not reloaded; the previous one stays in use")
		} else {
			log.Info().Msg("SIGHUP: certificate reloaded")
		}
	}
}

// listen opens --listen (behind TLS when a certificate is given) and --coordinator-listen.
func (sec *security) listen(log zerolog.Logger) (main, coord net.Listener, err error) {
	if main, err = net.Listen("tcp", sec.c.listen); err != nil {
		return nil, nil, err
	}
	warnIfOpen(log, main, "--listen", sec.tokens)
	if sec.c.tlsCert != "" {
		main = tls.NewListener(main, &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return sec.cert.Load(), nil },
		})
	}
	if sec.c.coordinatorListen != "" {
		if coord, err = net.Listen("tcp", sec.c.coordinatorListen); err != nil {
			main.Close()
			return nil, nil, fmt.Errorf("--coordinator-listen: %w", err)
		}
		warnIfOpen(log, coord, "--coordinator-listen", sec.tokens)
	}
	return main, coord, nil
}

// warnIfOpen says at start that a listener reachable from other hosts has no
// authentication: every client that reaches it can change or wipe the whole state.
func warnIfOpen(log zerolog.Logger, ln net.Listener, flagName string, tokens *httpapi.Tokens) {
	if tokens != nil {
		return
	}
	ap, err := netip.ParseAddrPort(ln.Addr().String())
	if err == nil && ap.Addr().IsLoopback() {
		return
	}
	log.Warn().Str("listen", ln.Addr().String()).
		Msg(flagName + " is not a loopback address and --auth-token-file is not set: any client that reaches it can change or wipe the whole state (see README, Security)")
}

// networksString is the list for the start-up log line.
func networksString(n []netip.Prefix) string {
	s := make([]string, len(n))
	for i, p := range n {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
