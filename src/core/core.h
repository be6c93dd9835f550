/* core.h — the core toolkit every module builds on: errors, memory and buffers, logging,
 * clocks and RFC 3339, CRC32C and MD5, the file-ops seam, histograms, W3C trace ids and the
 * config table. Modules include this one header. */
#ifndef FL_CORE_CORE_H
#define FL_CORE_CORE_H

#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/histogram.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"
#include "core/trace.h"

#endif
