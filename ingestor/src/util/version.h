/*
 * version.h - the ingestor's version, reported by --version and sent as the
 * HTTP User-Agent (loomlat/VERSION); it follows the extension's version.
 */
#ifndef LOOMLAT_VERSION_H
#define LOOMLAT_VERSION_H

#define LOOMLAT_VERSION "0.1.0"

#endif
