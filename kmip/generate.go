package kmip

// The name tables (tags_generated.go, enums_generated.go,
// attributes_generated.go) are generated from kmip/spec/*.csv.
//go:generate go run ./internal/gen
