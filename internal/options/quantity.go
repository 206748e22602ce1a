package options

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// quantitySuffixes are the Kubernetes quantity suffixes daprd accepts for
// sizes: binary (Ki…Ei), decimal (k…E) and the sub-unit ones (m, u, n),
// which only make sense for rounding but are valid syntax.
var quantitySuffixes = map[string]*big.Rat{
	"":   big.NewRat(1, 1),
	"Ki": new(big.Rat).SetInt64(1 << 10),
	"Mi": new(big.Rat).SetInt64(1 << 20),
	"Gi": new(big.Rat).SetInt64(1 << 30),
	"Ti": new(big.Rat).SetInt64(1 << 40),
	"Pi": new(big.Rat).SetInt64(1 << 50),
	"Ei": new(big.Rat).SetInt64(1 << 60),
	"n":  big.NewRat(1, 1_000_000_000),
	"u":  big.NewRat(1, 1_000_000),
	"m":  big.NewRat(1, 1_000),
	"k":  new(big.Rat).SetInt64(1e3),
	"M":  new(big.Rat).SetInt64(1e6),
	"G":  new(big.Rat).SetInt64(1e9),
	"T":  new(big.Rat).SetInt64(1e12),
	"P":  new(big.Rat).SetInt64(1e15),
	"E":  new(big.Rat).SetInt64(1e18),
}

// ParseQuantity parses a size in Kubernetes quantity syntax ("4Mi", "16M",
// "1.5Gi", "1e6", "4096") into bytes, rounding fractions up as Kubernetes
// does. We parse it ourselves rather than pull in k8s apimachinery.
func ParseQuantity(s string) (int64, error) {
	num, suffix := splitQuantity(strings.TrimSpace(s))
	if !hasDigit(num) {
		return 0, errors.New("not a quantity (examples: 4Mi, 16M, 4096)")
	}
	value, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, errors.New("not a quantity (examples: 4Mi, 16M, 4096)")
	}
	mult, err := suffixMultiplier(suffix)
	if err != nil {
		return 0, err
	}
	value.Mul(value, mult)

	// Round up to a whole number of bytes.
	n := new(big.Int).Quo(value.Num(), value.Denom())
	if new(big.Rat).SetInt(n).Cmp(value) < 0 {
		n.Add(n, big.NewInt(1))
	}
	if !n.IsInt64() {
		return 0, errors.New("quantity too large")
	}
	return n.Int64(), nil
}

// splitQuantity splits "1.5Gi" into "1.5" and "Gi".
func splitQuantity(s string) (num, suffix string) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i], s[i:]
}

func hasDigit(s string) bool {
	return strings.ContainsAny(s, "0123456789")
}

// suffixMultiplier handles the named suffixes and decimal exponents ("e3").
func suffixMultiplier(suffix string) (*big.Rat, error) {
	if m, ok := quantitySuffixes[suffix]; ok {
		return m, nil
	}
	if len(suffix) > 1 && (suffix[0] == 'e' || suffix[0] == 'E') {
		exp, err := strconv.Atoi(suffix[1:])
		if err == nil && exp >= -18 && exp <= 18 {
			pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
			if exp < 0 {
				return new(big.Rat).SetFrac(big.NewInt(1), pow), nil
			}
			return new(big.Rat).SetInt(pow), nil
		}
	}
	return nil, errors.New("unknown quantity suffix " + strconv.Quote(suffix) + " (use Ki, Mi, Gi, k, M, G or plain bytes)")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
