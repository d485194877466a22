package ttlv

// Defaults used for zero (or negative) Limits fields.
const (
	DefaultMaxMessageSize = 1 << 20
	DefaultMaxDepth       = 32
	DefaultMaxItems       = 65536
)

// Limits bounds what a decoder accepts from an untrusted peer. Each bound is
// checked before the memory it protects is allocated. A zero field means its
// default.
type Limits struct {
	// MaxMessageSize is the largest message, in bytes of binary TTLV
	// including the 8-byte header of the outer structure.
	MaxMessageSize int
	// MaxDepth is the deepest nesting: the outer item is at depth 1.
	MaxDepth int
	// MaxItems is the most items (structures and primitives, counting the
	// outer one) in a message.
	MaxItems int
}

// DefaultLimits lists the defaults: 1 MiB, depth 32, 65536 items. Changing
// this variable changes nothing; zero Limits fields take the Default
// constants.
var DefaultLimits = Limits{
	MaxMessageSize: DefaultMaxMessageSize,
	MaxDepth:       DefaultMaxDepth,
	MaxItems:       DefaultMaxItems,
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = DefaultMaxMessageSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	return l
}
