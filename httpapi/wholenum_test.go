package httpapi

import "testing"

func TestWholeNumbers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"n":2336.0}`, `{"n":2336}`},
		{`{"n":2336}`, `{"n":2336}`},
		{`{"n":-4.00}`, `{"n":-4}`},
		{`{"n":0.0}`, `{"n":0}`},
		{`{"n":-0.0}`, `{"n":0}`},
		{`{"n":2.336e3}`, `{"n":2336}`},
		{`{"n":2336E0}`, `{"n":2336}`},
		{`{"n":4e+2}`, `{"n":400}`},
		{`{"n":12300e-2}`, `{"n":123}`},
		{`{"n":1.5}`, `{"n":1.5}`},
		{`{"n":15e-1}`, `{"n":15e-1}`},
		{`{"n":1e1000}`, `{"n":1e1000}`},
		{`{"n":1e99999999999}`, `{"n":1e99999999999}`},
		{`{"n":01.0}`, `{"n":01.0}`},
		{`{"n":1.}`, `{"n":1.}`},
		{`{"n":.5}`, `{"n":.5}`},
		{`{"n":1e}`, `{"n":1e}`},
		{`{"s":"2.0","t":"a\"3.0"}`, `{"s":"2.0","t":"a\"3.0"}`},
		{`[1.0,"x",2.50e1,[3e0]]`, `[1,"x",25,[3]]`},
		{`{"a":"\\","n":8.0}`, `{"a":"\\","n":8}`},
		{`"unterminated 1.0`, `"unterminated 1.0`},
	} {
		if got := string(wholeNumbers([]byte(c.in))); got != c.want {
			t.Errorf("wholeNumbers(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestDecodeWholeFloats: a whole number spelled 8.0 is the integer 8 for a handler.
func TestDecodeWholeFloats(t *testing.T) {
	var v struct {
		N *int64 `json:"node_number"`
	}
	if err := strictUnmarshal([]byte(`{"node_number": 8.0}`), &v); err != nil || v.N == nil || *v.N != 8 {
		t.Fatalf("strictUnmarshal 8.0: %v %v", err, v.N)
	}
	if err := strictUnmarshal([]byte(`{"node_number": 8.5}`), &v); err == nil {
		t.Fatal("strictUnmarshal accepted 8.5 for an integer")
	}
}
