package httpapi

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

type openAPIDoc struct {
	OpenAPI    string                                 `json:"openapi"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Security    []map[string][]string      `json:"security"`
	Access      string                     `json:"x-fulcrum-access"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIMatchesRouter: every route is documented and every documented operation is
// routed (pprof included, which is routed only with --pprof).
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	s := New(Options{Logger: zerolog.Nop(), Gatherer: prometheus.NewRegistry(), Pprof: true})
	routed := map[string]bool{}
	for method, paths := range s.routes {
		for _, p := range paths {
			routed[method+" "+routeParam.ReplaceAllString(p, "{$1}")] = true
		}
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, r := range sortedKeys(routed) {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range sortedKeys(documented) {
		if !routed[d] {
			t.Errorf("openapi.json documents %s, which is not routed", d)
		}
	}
}

// TestOpenAPIErrorCodes: the document's error codes are the error table's, and each
// operation's access (and its 401) is what the guard does.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	codes := doc.Components.Schemas["Error"].Properties["error"].Enum
	want := sortedKeys(byCode)
	if !slices.Equal(codes, want) {
		t.Errorf("Error.error enum\n got %v\nwant %v (httpapi/errors.go)", codes, want)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			need := classify([]byte(strings.ToUpper(method)), []byte(path))
			name := strings.ToUpper(method) + " " + path
			switch need {
			case accessOpen:
				if op.Access != "" || op.Responses["401"] != nil {
					t.Errorf("%s is open but documented as %q with a 401", name, op.Access)
				}
			case accessCoordinator:
				if op.Access != "coordinator" || op.Responses["401"] == nil {
					t.Errorf("%s is a coordinator call but documented as %q (401: %v)", name, op.Access, op.Responses["401"] != nil)
				}
			case accessToken:
				if op.Access != "token" || op.Responses["401"] == nil || op.Security != nil {
					t.Errorf("%s needs a token but is documented as %q (401: %v, security %v)", name, op.Access, op.Responses["401"] != nil, op.Security)
				}
			}
		}
	}
}

// routeParam is a router parameter with a pattern ({token:[0-9a-f-]+}, {profile:*}).
var routeParam = regexp.MustCompile(`\{(\w+):[^}]*\}`)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIBalancerInputs: the balancer's query parameters and body fields are the ones
// the handlers read (balancerParams, planBody), so that a new one cannot go undocumented:
// schemathesis cannot tell, since it runs without Kafka and /balancer answers 503 first.
func TestOpenAPIBalancerInputs(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var query []string
	for _, p := range doc.Paths["/balancer"]["get"].Parameters {
		if p.In == "query" {
			query = append(query, p.Name)
		}
	}
	sort.Strings(query)
	if want := sortedKeys(balancerParams); !slices.Equal(query, want) {
		t.Errorf("GET /balancer query parameters\n got %v\nwant %v (balancerParams)", query, want)
	}
	for schema, v := range map[string]any{"PlanBody": planBody{}, "PlanChange": changeBody{}, "PlanPlacement": placementBody{}} {
		got := sortedKeys(doc.Components.Schemas[schema].Properties)
		fields := map[string]reflect.Type{}
		addFields(reflect.TypeOf(v), fields)
		if want := sortedKeys(fields); !slices.Equal(got, want) {
			t.Errorf("%s properties\n got %v\nwant %v (the fields POST /balancer reads)", schema, got, want)
		}
	}
}
