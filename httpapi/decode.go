package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// The one JSON decoder of every request body, broker and balancer alike. encoding/json lets
// two things through that a client cannot mean: a key twice in one object (the last one
// wins) and a key that names a field only when case is ignored ({"NODE_NUMBER": 4}).
// strictUnmarshal refuses both; unknown keys are still ignored (a GET /balancer report can
// be posted as it is).

// decode parses the request's JSON body into v; the body's bytes are not kept.
func decode(ctx *fasthttp.RequestCtx, v any) error {
	body := bytes.TrimSpace(ctx.PostBody())
	if len(body) == 0 {
		return badRequest("a JSON body is required")
	}
	if err := strictUnmarshal(body, v); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	return nil
}

// strictUnmarshal is json.Unmarshal that refuses duplicate keys and keys in the wrong case.
func strictUnmarshal(data []byte, v any) error {
	if err := checkKeys(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// Errors of checkKeys, for errors.Is.
var (
	ErrDuplicateKey = errors.New("duplicate key")
	ErrKeyCase      = errors.New("key in the wrong case")
)

// KeyError says which key of a JSON body was refused and where.
type KeyError struct {
	Path, Key string
	Want      string // the field's spelling, for ErrKeyCase
	Err       error
}

func (e *KeyError) Error() string {
	if e.Want != "" {
		return fmt.Sprintf("%s: key %q must be spelled %q", e.Path, e.Key, e.Want)
	}
	return fmt.Sprintf("%s: %v %q", e.Path, e.Err, e.Key)
}

func (e *KeyError) Unwrap() error { return e.Err }

// JSONShaper is implemented by types with their own UnmarshalJSON that read an object
// through another type: JSONShape returns a value of that type, so that its keys are
// checked too.
type JSONShaper interface{ JSONShape() any }

// checkKeys walks data (which must be valid JSON for the check to be complete; a syntax
// error is left to json.Unmarshal) alongside the type it is decoded into.
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkKeys(dec, t, "$"); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) {
			return err
		}
		return nil // malformed: json.Unmarshal says how
	}
	return nil
}

func walkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	s := shapeOf(t)
	if delim == '[' {
		for dec.More() {
			if err := walkKeys(dec, s.elem, path+"[]"); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if seen[key] {
			return &KeyError{Path: path, Key: key, Err: ErrDuplicateKey}
		}
		seen[key] = true
		next := s.elem
		if s.fields != nil {
			next = nil
			if f, ok := s.fields[key]; ok {
				next = f
			} else {
				for name := range s.fields {
					if strings.EqualFold(name, key) {
						return &KeyError{Path: path, Key: key, Want: name, Err: ErrKeyCase}
					}
				}
			}
		}
		if err := walkKeys(dec, next, path+"."+key); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// shape is what a type expects of a JSON value: the fields of an object (by exact key) or
// the type of the elements of an array or map. Nil types mean "any": only duplicates are
// checked below them.
type shape struct {
	fields map[string]reflect.Type
	elem   reflect.Type
}

var (
	shapes          sync.Map // reflect.Type → shape
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	shaperType      = reflect.TypeFor[JSONShaper]()
)

func shapeOf(t reflect.Type) shape {
	if t == nil {
		return shape{}
	}
	if s, ok := shapes.Load(t); ok {
		return s.(shape)
	}
	s := buildShape(t)
	shapes.Store(t, s)
	return s
}

func buildShape(t reflect.Type) shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pt := reflect.PointerTo(t)
	if t.Implements(shaperType) || pt.Implements(shaperType) {
		return shapeOf(reflect.TypeOf(reflect.New(t).Interface().(JSONShaper).JSONShape()))
	}
	if t.Implements(unmarshalerType) || pt.Implements(unmarshalerType) {
		return shape{} // its own format: duplicates only
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return shape{elem: t.Elem()}
	case reflect.Struct:
		fields := map[string]reflect.Type{}
		addFields(t, fields)
		return shape{fields: fields}
	}
	return shape{}
}

// addFields collects the JSON names of a struct's fields as encoding/json does: the tag's
// name or the field's, "-" skipped, untagged embedded structs flattened.
func addFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, fields)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := fields[name]; !dup {
			fields[name] = f.Type
		}
	}
}
