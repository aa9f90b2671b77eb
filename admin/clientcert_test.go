package admin_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/pierftp/pier/admin"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/testpki"
)

// TestClientCertificate: over TLS with client CAs, a verified client
// certificate authorises reading and actions (logged with its CN); no
// certificate gets 401; one of another CA fails the handshake; a wrong
// token beside a good certificate still gets 401.
func TestClientCertificate(t *testing.T) {
	f := setup(t, func(o *admin.Options) { o.Token = token }, nil)
	ca := testpki.NewCA("admin CA")
	hs := httptest.NewUnstartedServer(f.handler)
	hs.TLS = &tls.Config{ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	clientWith := func(cert *tls.Certificate) *http.Client {
		tr := hs.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig = testpki.ClientConfig(tr.TLSClientConfig, *cert)
		}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	alice := ca.Issue(testpki.Options{CommonName: "alice-ops"})
	withCert, without := clientWith(&alice), clientWith(nil)

	c := f.ftp.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)

	code, _, data := call(t, withCert, "GET", hs.URL+"/api/status", "", "")
	if code != http.StatusOK {
		t.Fatalf("status with a certificate: %d %s", code, data)
	}
	var st admin.Status
	decode(t, data, &st)
	if !st.CanAct || st.Who != "cert:alice-ops" {
		t.Errorf("can_act %v, who %q", st.CanAct, st.Who)
	}
	s := sessionOf(st, ftptest.User)
	if s == nil {
		t.Fatal("no session")
	}
	id := strconv.FormatUint(s.ID, 10)
	if code, _, _ := call(t, without, "GET", hs.URL+"/api/status", "", ""); code != http.StatusUnauthorized {
		t.Errorf("status without a certificate: %d", code)
	}
	if code, _, _ := call(t, without, "DELETE", hs.URL+"/api/sessions/"+id, "", ""); code != http.StatusUnauthorized {
		t.Errorf("end session without a certificate: %d", code)
	}
	if code, _, _ := call(t, withCert, "DELETE", hs.URL+"/api/sessions/"+id, "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("end session with a certificate and a wrong token: %d", code)
	}
	c.Expect(t, "NOOP", 200)

	other := testpki.NewCA("other CA").Issue(testpki.Options{CommonName: "mallory"})
	if _, err := clientWith(&other).Get(hs.URL + "/api/status"); err == nil {
		t.Error("a certificate of another CA was accepted")
	}

	if code, _, data := call(t, withCert, "DELETE", hs.URL+"/api/sessions/"+id, "", ""); code != http.StatusAccepted {
		t.Fatalf("end session with a certificate: %d %s", code, data)
	}
	c.ExpectReply(t, 421)
	if log := f.log.String(); !strings.Contains(log, `who=cert:alice-ops`) || !strings.Contains(log, `action="end session" target=`+id+` outcome=ok`) {
		t.Errorf("log:\n%s", log)
	}
}
