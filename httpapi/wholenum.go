package httpapi

import "bytes"

// JSON does not tell 2 from 2.0 or 2e0: they are the same number, and JSON Schema's
// "integer" admits all three. encoding/json refuses the last two for an integer field, so
// wholeNumbers rewrites every number of a body that is a whole number spelled with a
// fraction or an exponent to its plain spelling before it is decoded. Other numbers are
// left alone (a fraction still fails an integer field, and floats decode as before).

// maxExpDigits bounds the exponents rewritten: 1e999 would be 1,000 digits; larger ones are
// left as they are (and overflow any integer field).
const maxExpDigits = 3

// wholeNumbers returns data with whole numbers respelled; data itself when none is.
func wholeNumbers(data []byte) []byte {
	var out []byte // nil until a number is respelled
	last := 0      // data[:last] is in out
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			i = skipString(data, i)
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(data) && isNumberByte(data[j]) {
				j++
			}
			if plain, ok := wholeSpelling(data[i:j]); ok {
				out = append(append(out, data[last:i]...), plain...)
				last = j
			}
			i = j
		default:
			i++
		}
	}
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// skipString returns the index after the string that starts at data[i] (a quote).
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// wholeSpelling returns the plain spelling of a number token with a fraction or an
// exponent whose value is whole ("2.0" → "2", "-1.5e1" → "-15", "0.0" → "0"); ok is false
// for a token that is already plain, not whole, or malformed (json.Unmarshal reports that).
func wholeSpelling(tok []byte) ([]byte, bool) {
	if !bytes.ContainsAny(tok, ".eE") {
		return nil, false
	}
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	mant, exp, hasExp := tok, []byte(nil), false
	if k := bytes.IndexAny(tok, "eE"); k >= 0 {
		mant, exp, hasExp = tok[:k], tok[k+1:], true
	}
	intPart, frac, dot := bytes.Cut(mant, []byte("."))
	if (dot && len(frac) == 0) || len(intPart) == 0 || !allDigits(intPart) || !allDigits(frac) || (len(intPart) > 1 && intPart[0] == '0') {
		return nil, false
	}
	e := 0
	if hasExp {
		sign := 1
		if len(exp) > 0 && (exp[0] == '+' || exp[0] == '-') {
			if exp[0] == '-' {
				sign = -1
			}
			exp = exp[1:]
		}
		if len(exp) == 0 || len(exp) > maxExpDigits || !allDigits(exp) {
			return nil, false
		}
		for _, d := range exp {
			e = e*10 + int(d-'0')
		}
		e *= sign
	}
	digits := append(append([]byte(nil), intPart...), frac...)
	shift := e - len(frac) // value = digits × 10^shift
	if shift < 0 {
		cut := len(digits) + shift
		if cut < 0 {
			cut = 0
		}
		for _, d := range digits[cut:] {
			if d != '0' {
				return nil, false
			}
		}
		digits = digits[:cut]
	} else {
		digits = append(digits, bytes.Repeat([]byte("0"), shift)...)
	}
	digits = bytes.TrimLeft(digits, "0")
	if len(digits) == 0 {
		return []byte("0"), true
	}
	if neg {
		digits = append([]byte("-"), digits...)
	}
	return digits, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
