#ifndef RELANCE_CLIBPQ_SHIM_H
#define RELANCE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>
#endif
