/* version: Kasse's version, printed by `kasse version` and shown on the start page. */
#ifndef KASSE_VERSION_H
#define KASSE_VERSION_H

#define KASSE_VERSION "0.1.0"

#endif
