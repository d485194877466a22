// Command gen writes the kmip package's name tables (tags_generated.go,
// enums_generated.go, attributes_generated.go) from the tables in
// kmip/spec. go generate runs it from the kmip directory
// (kmip/generate.go):
//
//	go generate ./kmip/...
//
// It owns the XML/JSON spelling of names (xmlName, with the exceptions in
// kmip/spec/xml_names.csv), the Go identifiers derived from them, and the
// checks that both are unique. It reads only kmip/spec: the extraction from
// the specifications is kmip/internal/gen/extract's. The generated files
// rely on the types in kmip/names.go (tagEntry, enumTable, AttributeInfo).
package main
