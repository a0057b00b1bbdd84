// Package printers renders objects the way kubectl does, so that tutorials
// written for kubectl read the same with podnet: the `get` tables (the columns
// of kubernetes' pkg/printers/internalversion), `-o name`, `-o jsonpath` and
// `describe`.
//
// Tables are built as metav1.Table values and printed by cli-runtime's table
// printer, the one kubectl itself uses, so the NAMESPACE and LABELS columns,
// kind prefixes, wide columns and padding come out exactly as kubectl's.
package printers
