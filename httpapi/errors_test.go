package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// errorPackages are the packages whose errors reach HTTP, relative to this one.
var errorPackages = []string{"../actors/meta", "../actors", "../actors/balancer", "."}

// parsePackage parses the non-test Go files of dir.
func parsePackage(t *testing.T, dir string) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

// metaErrorCode returns the Code of a meta.Error literal (&Error{"X"}, &meta.Error{Code: "X"}).
func metaErrorCode(lit *ast.CompositeLit) (code string, ok bool) {
	switch ty := lit.Type.(type) {
	case *ast.Ident:
		ok = ty.Name == "Error"
	case *ast.SelectorExpr:
		x, isIdent := ty.X.(*ast.Ident)
		ok = isIdent && x.Name == "meta" && ty.Sel.Name == "Error"
	}
	if !ok || len(lit.Elts) != 1 {
		return "", ok
	}
	v := lit.Elts[0]
	if kv, isKV := v.(*ast.KeyValueExpr); isKV {
		v = kv.Value
	}
	if b, isLit := v.(*ast.BasicLit); isLit && b.Kind == token.STRING {
		code, _ = strconv.Unquote(b.Value)
	}
	return code, true
}

// TestErrorTableCoversEveryError walks the source of every package whose errors reach HTTP:
// each meta.Error written anywhere (a sentinel or inline) has a row for its code, and each
// exported error kind of the balancer (errors.New) has a balancer row.
func TestErrorTableCoversEveryError(t *testing.T) {
	seen := map[string]bool{}
	for _, dir := range errorPackages {
		fset, files := parsePackage(t, dir)
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				code, isMeta := metaErrorCode(lit)
				if !isMeta {
					return true
				}
				pos := fset.Position(lit.Pos())
				switch {
				case code == "":
					t.Errorf("%s: a meta.Error whose code is not a string literal: the table test cannot check it", pos)
				case byCode[code] == nil:
					t.Errorf("%s: error code %s has no row in errorTable", pos, code)
				}
				seen[code] = true
				return true
			})
		}
	}
	for code := range byCode {
		if !seen[code] {
			t.Errorf("errorTable has a row for %s, which no source file writes", code)
		}
	}

	_, files := parsePackage(t, "../actors/balancer")
	kinds := 0
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() || !strings.HasPrefix(name.Name, "Err") || i >= len(vs.Values) {
						continue
					}
					call, ok := vs.Values[i].(*ast.CallExpr)
					if !ok || len(call.Args) != 1 {
						t.Errorf("balancer.%s is not errors.New(...): the table test cannot check it", name.Name)
						continue
					}
					text, _ := strconv.Unquote(call.Args[0].(*ast.BasicLit).Value)
					if !hasBalancerRow(text) {
						t.Errorf("balancer.%s (%q) has no row in errorTable", name.Name, text)
					}
					kinds++
				}
			}
		}
	}
	if kinds != len(balancerKinds) {
		t.Errorf("balancer exports %d error kinds, the table has %d balancer rows", kinds, len(balancerKinds))
	}
}

func hasBalancerRow(text string) bool {
	for _, r := range balancerKinds {
		if r.err.Error() == text {
			return true
		}
	}
	return false
}

// internalStatus are the rows that answer 500 on purpose: a bug, the disk, or proxies that
// did not follow. Any other row with 500 is a mistake.
var internalStatus = map[error]bool{
	actors.ErrInternal:   true,
	meta.ErrPersistence:  true,
	meta.ErrProxyNotSync: true,
	balancer.ErrInternal: true,
}

// TestErrorTableRows: every row answers its status in its shape, with its code and
// description for a bare sentinel, and only the rows meant to answer 500 do.
func TestErrorTableRows(t *testing.T) {
	for _, r := range errorTable {
		if r.status < 400 || r.status > 599 {
			t.Errorf("%v: status %d is not an error", r.err, r.status)
		}
		if (r.status == 500) != internalStatus[r.err] {
			t.Errorf("%v: status %d; 500 is for internal errors only (internalStatus)", r.err, r.status)
		}
		if r.description == "" {
			t.Errorf("%v: no description", r.err)
		}
		var ctx fasthttp.RequestCtx
		if e, ok := r.err.(*meta.Error); ok {
			writeError(&ctx, r.err)
			assertErrorBody(t, &ctx, r.status, errorBody{Error: e.Code, Message: r.description})
			continue
		}
		wrapped := fmt.Errorf("%w: detail", r.err)
		writeBalancerError(&ctx, balancerStatus(wrapped), wrapped.Error())
		if got := ctx.Response.StatusCode(); got != r.status {
			t.Errorf("%v: status %d, want %d", r.err, got, r.status)
		}
		var body balancerErrorBody
		if err := json.Unmarshal(ctx.Response.Body(), &body); err != nil || body.Code != r.status || body.Message != wrapped.Error() {
			t.Errorf("%v: body %s (%v)", r.err, ctx.Response.Body(), err)
		}
	}
}

func assertErrorBody(t *testing.T, ctx *fasthttp.RequestCtx, status int, want errorBody) {
	t.Helper()
	if got := ctx.Response.StatusCode(); got != status {
		t.Errorf("%s: status %d, want %d", want.Error, got, status)
	}
	if ct := string(ctx.Response.Header.ContentType()); ct != "application/json" {
		t.Errorf("%s: content type %q", want.Error, ct)
	}
	var got errorBody
	if err := json.Unmarshal(ctx.Response.Body(), &got); err != nil || got != want {
		t.Errorf("body %s (%v), want %+v", ctx.Response.Body(), err, want)
	}
}

// TestWriteError: the message an error answers with, and what an error without a row does.
func TestWriteError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		want   errorBody
	}{
		{"sentinel", meta.ErrClusterNotFound, 404, errorBody{"CLUSTER_NOT_FOUND", "no such cluster"}},
		{"wrapped sentinel", fmt.Errorf("%w: x", meta.ErrInUse), 409, errorBody{"IN_USE", "IN_USE: x"}},
		{"request error", badRequest("bad name"), 400, errorBody{"INVALID_REQUEST", "bad name"}},
		{"request error of another code", &requestError{errUnauthorized, "no token"}, 401, errorBody{"UNAUTHORIZED", "no token"}},
		{"engine error", actors.ErrOutcomeUnknown, 504, errorBody{"OUTCOME_UNKNOWN", "the change was accepted but its commit did not report in time; it may be applied"}},
		{"plain error", errors.New("boom"), 500, errorBody{"INTERNAL_ERROR", "boom"}},
		{"code without a row", &meta.Error{Code: "NO_SUCH_CODE"}, 500, errorBody{"INTERNAL_ERROR", "error code NO_SUCH_CODE has no row in the error table: NO_SUCH_CODE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			writeError(&ctx, tc.err)
			assertErrorBody(t, &ctx, tc.status, tc.want)
		})
	}
}

// TestWriteConfigError: INVALID_CONFIG keeps undermoon's shape, with key and value.
func TestWriteConfigError(t *testing.T) {
	var ctx fasthttp.RequestCtx
	writeError(&ctx, &meta.ConfigError{Key: "k", Value: "v", Message: meta.ConfigFieldNotFound})
	if got := ctx.Response.StatusCode(); got != 400 {
		t.Errorf("status %d, want 400", got)
	}
	want := `{"error":"INVALID_CONFIG","key":"k","value":"v","message":"FIELD_NOT_FOUND"}`
	if got := string(ctx.Response.Body()); got != want {
		t.Errorf("body %s, want %s", got, want)
	}
}

// TestBalancerStatusWithoutKind: an error of no kind is Kafka or the planners not answering.
func TestBalancerStatusWithoutKind(t *testing.T) {
	if got := balancerStatus(errors.New("dial tcp: refused")); got != 503 {
		t.Errorf("status %d, want 503", got)
	}
}
