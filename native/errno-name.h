/* Node-style names for errno values ("EPERM"), so JavaScript sees err.code like node:fs gives. */
#ifndef RX_ERRNO_NAME_H
#define RX_ERRNO_NAME_H

/* The symbolic name of `err`, or NULL when this table does not know it. */
const char *rx_errno_name(int err);

#endif
