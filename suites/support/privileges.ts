// argv prefixes that run a command with less than root: what a machine that cannot run the kernel
// suites looks like, made on this one.

/** Root without CAP_NET_ADMIN and CAP_SYS_ADMIN: unprivileged for the harness, yet able to read any checkout. */
export const NO_CAPS = ['setpriv', '--inh-caps=-net_admin,-sys_admin', '--bounding-set=-net_admin,-sys_admin'];

/** The nobody user, no groups. */
export const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
