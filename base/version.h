/* version.h — the marlsim version, recorded in every lake's identity. */
#ifndef MS_BASE_VERSION_H
#define MS_BASE_VERSION_H

#define MS_VERSION "0.2.0"

#endif
