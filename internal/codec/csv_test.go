package codec

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

type person struct {
	Name   string
	Age    int64 `bsp:"age"`
	Small  int8
	Count  uint16
	Score  *float64
	Ratio  float32
	Member bool
	Born   time.Time
	Raw    []byte
	Nick   *string
	Tags   []string
	Addr   inner
	skip   int
}

func TestCSVParse(t *testing.T) {
	p, err := NewCSVParser[person]([]string{"name", "AGE", " score ", "born", "Raw", "nick", "member", "ratio", "count", "small"})
	if err != nil {
		t.Fatal(err)
	}
	v := person{Tags: []string{"stale"}}
	if err := p.Parse([]string{"Ada Lovelace", " 36", "", "1815-12-10", "r\x00", "", "true", "0.5", "65535", "-128"}, &v); err != nil {
		t.Fatal(err)
	}
	want := person{Name: "Ada Lovelace", Age: 36, Born: time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC), Raw: []byte("r\x00"),
		Member: true, Ratio: 0.5, Count: 65535, Small: -128}
	if v.Name != want.Name || v.Age != want.Age || v.Score != nil || !v.Born.Equal(want.Born) || string(v.Raw) != "r\x00" ||
		v.Nick != nil || !v.Member || v.Ratio != 0.5 || v.Count != 65535 || v.Small != -128 || v.Tags != nil {
		t.Fatalf("parsed %+v", v)
	}
	rec := []string{"日本", "7", "2.5", "2020-01-02T03:04:05.123+02:00", "", "bob", "0", "1e3", "0", "0"}
	if err := p.Parse(rec, &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "日本" || *v.Score != 2.5 || *v.Nick != "bob" || v.Member || v.Ratio != 1000 ||
		!v.Born.Equal(time.Date(2020, 1, 2, 1, 4, 5, 123e6, time.UTC)) || v.Born.Location() != time.UTC || len(v.Raw) != 0 {
		t.Fatalf("parsed %+v", v)
	}
	for _, s := range []string{"2020-01-02T03:04:05Z", "2020-01-02 03:04:05", "2020-01-02T03:04:05.999999999-07:00"} {
		rec[3] = s
		if err := p.Parse(rec, &v); err != nil {
			t.Errorf("time %q: %v", s, err)
		}
	}
}

func TestCSVParseErrors(t *testing.T) {
	header := []string{"name", "age", "score", "born", "member", "count", "small", "ratio"}
	p, err := NewCSVParser[person](header)
	if err != nil {
		t.Fatal(err)
	}
	good := []string{"x", "1", "", "2020-01-01", "true", "1", "1", "1"}
	cases := []struct {
		col   int
		value string
		msg   string
		cause error
	}{
		{1, "x", `column "age": parsing "x" as int64: invalid syntax`, strconv.ErrSyntax},
		{1, "99999999999999999999", `column "age": parsing "99999999999999999999" as int64: value out of range`, strconv.ErrRange},
		{1, "", `column "age": parsing "" as int64: invalid syntax`, strconv.ErrSyntax},
		{6, "128", `column "small": parsing "128" as int8: value out of range`, strconv.ErrRange},
		{5, "-1", `column "count": parsing "-1" as uint16: invalid syntax`, strconv.ErrSyntax},
		{5, "70000", `column "count": parsing "70000" as uint16: value out of range`, strconv.ErrRange},
		{0, "x\xff", `column "name": parsing "x\xff" as string: invalid UTF-8`, ErrInvalidUTF8},
		{2, "nan?", `column "score": parsing "nan?" as float64: invalid syntax`, strconv.ErrSyntax},
		{7, "1e99", `column "ratio": parsing "1e99" as float32: value out of range`, strconv.ErrRange},
		{4, "yes", `column "member": parsing "yes" as bool: invalid syntax`, strconv.ErrSyntax},
		{3, "yesterday", `column "born": parsing "yesterday" as time.Time: not an RFC 3339 time or a 2006-01-02 date`, errTimeSyntax},
		{3, "2020-13-01", `column "born": parsing "2020-13-01" as time.Time: not an RFC 3339 time or a 2006-01-02 date`, errTimeSyntax},
	}
	for _, c := range cases {
		rec := append([]string(nil), good...)
		rec[c.col] = c.value
		var v person
		err := p.Parse(rec, &v)
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, c.cause) || err.Error() != c.msg {
			t.Errorf("%q: error %v\nwant %s", c.value, err, c.msg)
			continue
		}
		if fe.Column != header[c.col] || fe.Value != c.value {
			t.Errorf("FieldError %+v", fe)
		}
	}
	var v person
	if err := p.Parse(good[:2], &v); !errors.Is(err, ErrFieldCount) || !strings.Contains(err.Error(), "2 fields, the header has 8") {
		t.Errorf("short record: %v", err)
	}
	if err := p.Parse(append(good, "extra"), &v); !errors.Is(err, ErrFieldCount) {
		t.Errorf("long record: %v", err)
	}
}

func TestCSVParserConstruction(t *testing.T) {
	cases := []struct {
		err  error
		is   error
		want string
	}{
		{csvErr[person]("name", "height"), ErrUnknownColumn, `column "height" matches no field of codec.person`},
		{csvErr[person]("Name", "NAME"), ErrUnknownColumn, `columns "Name" and "NAME" both match field codec.person.Name`},
		{csvErr[person]("skip"), ErrUnknownColumn, `column "skip"`},
		{csvErr[person]("tags"), ErrUnsupportedType, "codec: codec.person.Tags: unsupported type []string in a CSV column"},
		{csvErr[person]("addr"), ErrUnsupportedType, "codec: codec.person.Addr: unsupported type codec.inner in a CSV column"},
		{csvErr[int]("value"), ErrUnsupportedType, "codec: int: unsupported type int (CSV rows must be structs)"},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.is) || c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want %v mentioning %q", c.err, c.is, c.want)
		}
	}
	_ = person{skip: 1} // unexported fields are ignored, not refused
	// Fields without a column are fine, even unsupported ones.
	if _, err := NewCSVParser[person]([]string{"age"}); err != nil {
		t.Fatal(err)
	}
	// The parser keeps its own copy of the header.
	h := []string{"age"}
	p, _ := NewCSVParser[person](h)
	h[0] = "changed"
	var v person
	if err := p.Parse([]string{"z"}, &v); err == nil || !strings.Contains(err.Error(), `column "age"`) {
		t.Fatalf("error %v", err)
	}
}

func csvErr[T any](header ...string) error {
	_, err := NewCSVParser[T](header)
	return err
}

func BenchmarkCSVParse(b *testing.B) {
	p, _ := NewCSVParser[kv]([]string{"key", "value"})
	rec := []string{"superstep", "42"}
	var v kv
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(rec, &v); err != nil {
			b.Fatal(err)
		}
	}
}
