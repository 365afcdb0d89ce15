package tokenize

import "slices"

// stopwordList is the English stopword list: 137 common function words (articles,
// pronouns and their possessives, auxiliary and modal verbs, prepositions,
// conjunctions and a few frequent adverbs), written for this package in the spirit
// of the classic SMART and Snowball lists but shorter. It holds only words that
// carry no topic on their own; negations ("no", "not", "nor") are kept out of it so
// that queries like "not null" still work. The entries are folded words (lower
// case, ASCII apostrophe), compared before stemming.
var stopwordList = []string{
	// articles and determiners
	"a", "an", "the", "this", "that", "these", "those", "each", "every", "any",
	"some", "such", "both", "either", "neither", "other", "another", "own", "same",
	// personal pronouns and possessives
	"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves",
	"you", "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself",
	"she", "her", "hers", "herself", "it", "its", "itself", "they", "them", "their",
	"theirs", "themselves",
	// interrogatives and relatives
	"what", "which", "who", "whom", "whose", "when", "where", "why", "how",
	// be, have, do
	"am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had",
	"having", "do", "does", "did", "doing",
	// modals
	"can", "could", "will", "would", "shall", "should", "may", "might", "must",
	// prepositions
	"about", "above", "after", "against", "among", "at", "before", "below",
	"between", "by", "down", "during", "for", "from", "in", "into", "of", "off",
	"on", "onto", "out", "over", "through", "to", "under", "until", "up", "upon",
	"with", "within", "without",
	// conjunctions
	"and", "but", "or", "if", "as", "because", "than", "then", "so", "while",
	"though", "although",
	// frequent adverbs and quantifiers
	"also", "again", "here", "there", "very", "too", "just", "only", "more",
	"most",
}

var stopwords = func() map[string]struct{} {
	m := make(map[string]struct{}, len(stopwordList))
	for _, w := range stopwordList {
		m[w] = struct{}{}
	}
	return m
}()

// Stopwords returns the English stopword list used with Options.Stopwords, sorted.
// The words are folded (lower case) and unstemmed; the caller may modify the slice.
func Stopwords() []string {
	s := slices.Clone(stopwordList)
	slices.Sort(s)
	return s
}

// IsStopword reports whether the folded, unstemmed word is in the stopword list.
func IsStopword(word string) bool {
	_, ok := stopwords[word]
	return ok
}
