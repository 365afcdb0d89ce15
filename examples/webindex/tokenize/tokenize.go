// Package tokenize turns the visible text of a web page (or a search query) into
// index terms for the web-index example: Unicode word segmentation, case folding,
// an optional English stopword list and optional English Snowball stemming, with
// word positions kept for phrase queries.
//
// # Words
//
// A word is a maximal run of letters and digits (unicode.IsLetter, unicode.IsDigit),
// where combining marks (unicode.IsMark) continue a word but never start one. Two
// characters join across a word:
//
//   - an apostrophe (U+0027 ' or U+2019 ’, both written as ') that has a letter on
//     each side: "don't", "O’Brien", "dog's" are one word each;
//   - a period that has a digit on each side: "3.40.1" and "2.5" are one word each.
//
// Everything else separates words, including invalid UTF-8 bytes, underscores,
// hyphens and a trailing apostrophe ("dogs'" is the word "dogs"). Scripts written
// without spaces (Chinese, Japanese, Thai) are not split further: a run of Han
// characters is a single word.
//
// # Terms
//
// Each word is case folded: every rune r becomes unicode.ToLower(unicode.ToUpper(r)),
// which is strings.ToLower's mapping plus the folding of the odd forms that have no
// lower-case mapping of their own ("ς" and "σ" both become "σ", "ſ" becomes "s", the
// Kelvin sign becomes "k"). A folded word longer than MaxTermBytes bytes is dropped.
// With Options.Stopwords, folded words in the English stopword list (see Stopwords)
// are dropped. With Options.Stem, words that contain no digit are reduced with the
// English (Porter2) Snowball stemmer of github.com/kljensen/snowball; stopwords are
// stemmed too when they are kept.
//
// # Positions
//
// Positions count every word of the text from 0, including the dropped ones
// (stopwords and over-long words), so the terms of a phrase such as "the running
// dog" keep their distances and a query tokenized the same way matches them.
package tokenize

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
)

// MaxTermBytes is the longest term, in bytes of UTF-8, that Tokens emits; a folded
// word longer than this is dropped (its position is still counted).
const MaxTermBytes = 64

// Options selects the optional steps of tokenization. The zero value only segments
// and case-folds.
type Options struct {
	// Stem reduces words to their English Snowball (Porter2) stem.
	Stem bool
	// Stopwords drops the words of the English stopword list (see Stopwords).
	Stopwords bool
}

// Tokenizer splits text into terms. It is immutable after New and safe for
// concurrent use by several goroutines.
type Tokenizer struct {
	opts Options
	// stems holds *stemCache values. Stemming dominates the cost of
	// tokenizing and most words repeat, so each call of Tokens borrows a cache
	// of folded word -> stem; the pool keeps concurrent calls apart.
	stems sync.Pool
}

// stemCacheMax bounds a stem cache; a full cache is emptied.
const stemCacheMax = 1 << 15

type stemCache map[string]string

// New returns a Tokenizer with the given options.
func New(opts Options) *Tokenizer {
	t := &Tokenizer{opts: opts}
	t.stems.New = func() any {
		c := make(stemCache, 1024)
		return &c
	}
	return t
}

// Options returns the options the Tokenizer was made with.
func (t *Tokenizer) Options() Options { return t.opts }

// byte classes of the ASCII fast path.
const (
	clSep    = 0
	clLower  = 1 // a-z: a letter that folds to itself
	clUpper  = 2 // A-Z: a letter that folds to r+32
	clDigit  = 3
	clApos   = 4 // '
	clPeriod = 5 // .
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = clUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clDigit
	}
	t['\''] = clApos
	t['.'] = clPeriod
	return t
}()

// kind of the last character appended to a word.
const (
	kLetter = 1 // letters and marks
	kDigit  = 2
)

// runeAt decodes the rune at text[i]; invalid UTF-8 decodes as utf8.RuneError with
// size 1, which is not a letter, digit or mark and so separates words.
func runeAt(text string, i int) (rune, int) {
	if c := text[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(text[i:])
}

// wordKind says whether r is part of a word: kLetter for a letter or mark, kDigit
// for a digit, 0 otherwise. Marks only continue a word; the caller checks that.
func wordKind(r rune) int {
	if r < utf8.RuneSelf {
		switch asciiClass[r] {
		case clLower, clUpper:
			return kLetter
		case clDigit:
			return kDigit
		}
		return 0
	}
	if r == utf8.RuneError {
		return 0 // a genuine U+FFFD is treated like the invalid bytes it stands for
	}
	switch {
	case unicode.IsLetter(r), unicode.IsMark(r):
		return kLetter
	case unicode.IsDigit(r):
		return kDigit
	}
	return 0
}

// fold is the case folding of one rune (see the package documentation).
func fold(r rune) rune {
	return unicode.ToLower(unicode.ToUpper(r))
}

// Tokens calls emit for each term of text in order, with the position of its word
// (see the package documentation). The term string is only valid as a value; emit
// may keep it. Tokens never fails: any byte sequence is accepted.
func (t *Tokenizer) Tokens(text string, emit func(term string, pos int)) {
	var arr [MaxTermBytes + utf8.UTFMax]byte
	var stems stemCache
	if t.opts.Stem {
		p := t.stems.Get().(*stemCache)
		defer t.stems.Put(p)
		stems = *p
	}
	pos := 0
	i := 0
	n := len(text)
	for i < n {
		// Find the start of the next word: a letter or a digit.
		c := text[i]
		if c < utf8.RuneSelf {
			if cl := asciiClass[c]; cl != clLower && cl != clUpper && cl != clDigit {
				i++
				continue
			}
		} else {
			r, size := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
				i += size
				continue
			}
		}

		// Scan the word, folding it into buf as we go. changed records whether
		// the folded bytes differ from text[start:i]; if not, the term is a
		// substring of text and needs no copy.
		start := i
		buf := arr[:0]
		changed := false
		tooLong := false
		hasDigit := false
		last := 0
		for i < n {
			c := text[i]
			if c < utf8.RuneSelf {
				switch asciiClass[c] {
				case clLower:
					buf = appendByte(buf, c, &tooLong)
					last = kLetter
					i++
					continue
				case clUpper:
					buf = appendByte(buf, c+('a'-'A'), &tooLong)
					changed = true
					last = kLetter
					i++
					continue
				case clDigit:
					buf = appendByte(buf, c, &tooLong)
					hasDigit = true
					last = kDigit
					i++
					continue
				case clApos:
					if last == kLetter && i+1 < n && nextKind(text, i+1) == kLetter {
						buf = appendByte(buf, '\'', &tooLong)
						i++
						continue
					}
				case clPeriod:
					if last == kDigit && i+1 < n && nextKind(text, i+1) == kDigit {
						buf = appendByte(buf, '.', &tooLong)
						i++
						continue
					}
				}
				break // any other ASCII byte ends the word
			}
			r, size := utf8.DecodeRuneInString(text[i:])
			if r == '\u2019' { // right single quotation mark used as an apostrophe
				if last == kLetter && i+size < n && nextKind(text, i+size) == kLetter {
					buf = appendByte(buf, '\'', &tooLong)
					changed = true
					i += size
					continue
				}
				break
			}
			k := wordKind(r)
			if k == 0 {
				break
			}
			if k == kDigit {
				hasDigit = true
			}
			last = k
			if f := fold(r); f != r {
				changed = true
				r = f
			}
			if !tooLong {
				if len(buf)+utf8.RuneLen(r) > MaxTermBytes {
					tooLong = true
				} else {
					buf = utf8.AppendRune(buf, r)
				}
			}
			i += size
		}

		wordPos := pos
		pos++
		if tooLong {
			continue
		}
		if t.opts.Stopwords {
			// Indexing a map with string(buf) does not allocate.
			if _, stop := stopwords[string(buf)]; stop {
				continue
			}
		}
		var term string
		if t.opts.Stem && !hasDigit {
			var ok bool
			if changed {
				term, ok = stems[string(buf)] // no allocation for the key
			} else {
				term, ok = stems[text[start:i]]
			}
			if !ok {
				// The key is a copy, so the cache never pins text.
				word := string(buf)
				term = english.Stem(word, true)
				if len(stems) >= stemCacheMax {
					clear(stems)
				}
				stems[word] = term
			}
			if term == "" || len(term) > MaxTermBytes {
				continue
			}
		} else if changed {
			term = string(buf)
		} else {
			term = text[start:i]
		}
		emit(term, wordPos)
	}
}

// NextWord finds the first word of text that starts at or after byte from,
// by the rules of the package documentation, and returns its byte range;
// ok is false if there is none. from must be 0 or the end of a word: so
//
//	for s, e, ok := NextWord(text, 0); ok; s, e, ok = NextWord(text, e)
//
// visits the words whose positions Tokens reports, in order, the n-th word
// (from 0) having position n. It neither folds nor allocates, which makes
// it much cheaper than Tokens for mapping positions back to the text.
func NextWord(text string, from int) (start, end int, ok bool) {
	i, n := from, len(text)
	for i < n {
		c := text[i]
		if c < utf8.RuneSelf {
			if asciiWord[c] {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			break
		}
		i += size
	}
	if i >= n {
		return n, n, false
	}
	start = i
	last := 0 // kind of the last rune, when it is not ASCII
	for i < n {
		c := text[i]
		if asciiWord[c] { // the common case: an ASCII letter or digit
			i++
			continue
		}
		if i > start {
			if p := text[i-1]; p < utf8.RuneSelf {
				last = kLetter
				if asciiClass[p] == clDigit {
					last = kDigit
				}
			}
		}
		if c < utf8.RuneSelf {
			switch asciiClass[c] {
			case clApos:
				if last == kLetter && i+1 < n && nextKind(text, i+1) == kLetter {
					i++
					continue
				}
			case clPeriod:
				if last == kDigit && i+1 < n && nextKind(text, i+1) == kDigit {
					i++
					continue
				}
			}
			break // any other ASCII byte ends the word
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '\u2019' {
			if last == kLetter && i+size < n && nextKind(text, i+size) == kLetter {
				i += size
				continue
			}
			break
		}
		k := wordKind(r)
		if k == 0 {
			break
		}
		last = k
		i += size
	}
	return start, i, true
}

// asciiWord holds the ASCII letters and digits.
var asciiWord = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		cl := asciiClass[c]
		t[c] = cl == clLower || cl == clUpper || cl == clDigit
	}
	return t
}()

// appendByte appends c to buf unless the word has grown past MaxTermBytes, in which
// case it sets *tooLong and leaves buf alone.
func appendByte(buf []byte, c byte, tooLong *bool) []byte {
	if *tooLong {
		return buf
	}
	if len(buf) >= MaxTermBytes {
		*tooLong = true
		return buf
	}
	return append(buf, c)
}

// nextKind is wordKind of the rune at text[i], with a mark counting as a letter.
func nextKind(text string, i int) int {
	r, _ := runeAt(text, i)
	return wordKind(r)
}
