// The AML body of khyve's DSDT (everything after the 36-byte table header).
#pragma once

#include "acpi/acpi.h"
#include "acpi/aml.h"

namespace khyve {

// \_S5, one ACPI0007 processor device per vCPU (_UID = MADT processor UID),
// \_SB.PCI0 with _CRS/_PRT, a PNP0C02 device reserving the ECAM window, and
// the COM ports. Throws Error on an invalid route or window.
aml::Bytes build_dsdt_aml(const AcpiConfig& cfg);

}  // namespace khyve
