// errno names, from the host's own <errno.h>: each entry is compiled only where the name
// exists, and aliases (EWOULDBLOCK == EAGAIN, EDEADLOCK == EDEADLK, ENOTSUP == EOPNOTSUPP on
// Linux) are left to the first name listed, which is the name libuv reports.
#include "errno_name.h"

#include <errno.h>

namespace confine {

const char* ErrnoName(int err) {
  // A chain of ifs rather than a switch: aliases with equal values would be duplicate cases.
#ifdef EPERM
  if (err == EPERM) return "EPERM";
#endif
#ifdef ENOENT
  if (err == ENOENT) return "ENOENT";
#endif
#ifdef ESRCH
  if (err == ESRCH) return "ESRCH";
#endif
#ifdef EINTR
  if (err == EINTR) return "EINTR";
#endif
#ifdef EIO
  if (err == EIO) return "EIO";
#endif
#ifdef ENXIO
  if (err == ENXIO) return "ENXIO";
#endif
#ifdef E2BIG
  if (err == E2BIG) return "E2BIG";
#endif
#ifdef ENOEXEC
  if (err == ENOEXEC) return "ENOEXEC";
#endif
#ifdef EBADF
  if (err == EBADF) return "EBADF";
#endif
#ifdef ECHILD
  if (err == ECHILD) return "ECHILD";
#endif
#ifdef EAGAIN
  if (err == EAGAIN) return "EAGAIN";
#endif
#ifdef ENOMEM
  if (err == ENOMEM) return "ENOMEM";
#endif
#ifdef EACCES
  if (err == EACCES) return "EACCES";
#endif
#ifdef EFAULT
  if (err == EFAULT) return "EFAULT";
#endif
#ifdef ENOTBLK
  if (err == ENOTBLK) return "ENOTBLK";
#endif
#ifdef EBUSY
  if (err == EBUSY) return "EBUSY";
#endif
#ifdef EEXIST
  if (err == EEXIST) return "EEXIST";
#endif
#ifdef EXDEV
  if (err == EXDEV) return "EXDEV";
#endif
#ifdef ENODEV
  if (err == ENODEV) return "ENODEV";
#endif
#ifdef ENOTDIR
  if (err == ENOTDIR) return "ENOTDIR";
#endif
#ifdef EISDIR
  if (err == EISDIR) return "EISDIR";
#endif
#ifdef EINVAL
  if (err == EINVAL) return "EINVAL";
#endif
#ifdef ENFILE
  if (err == ENFILE) return "ENFILE";
#endif
#ifdef EMFILE
  if (err == EMFILE) return "EMFILE";
#endif
#ifdef ENOTTY
  if (err == ENOTTY) return "ENOTTY";
#endif
#ifdef ETXTBSY
  if (err == ETXTBSY) return "ETXTBSY";
#endif
#ifdef EFBIG
  if (err == EFBIG) return "EFBIG";
#endif
#ifdef ENOSPC
  if (err == ENOSPC) return "ENOSPC";
#endif
#ifdef ESPIPE
  if (err == ESPIPE) return "ESPIPE";
#endif
#ifdef EROFS
  if (err == EROFS) return "EROFS";
#endif
#ifdef EMLINK
  if (err == EMLINK) return "EMLINK";
#endif
#ifdef EPIPE
  if (err == EPIPE) return "EPIPE";
#endif
#ifdef EDOM
  if (err == EDOM) return "EDOM";
#endif
#ifdef ERANGE
  if (err == ERANGE) return "ERANGE";
#endif
#ifdef EDEADLK
  if (err == EDEADLK) return "EDEADLK";
#endif
#ifdef ENAMETOOLONG
  if (err == ENAMETOOLONG) return "ENAMETOOLONG";
#endif
#ifdef ENOLCK
  if (err == ENOLCK) return "ENOLCK";
#endif
#ifdef ENOSYS
  if (err == ENOSYS) return "ENOSYS";
#endif
#ifdef ENOTEMPTY
  if (err == ENOTEMPTY) return "ENOTEMPTY";
#endif
#ifdef ELOOP
  if (err == ELOOP) return "ELOOP";
#endif
#ifdef ENOMSG
  if (err == ENOMSG) return "ENOMSG";
#endif
#ifdef EIDRM
  if (err == EIDRM) return "EIDRM";
#endif
#ifdef ENOSTR
  if (err == ENOSTR) return "ENOSTR";
#endif
#ifdef ENODATA
  if (err == ENODATA) return "ENODATA";
#endif
#ifdef ETIME
  if (err == ETIME) return "ETIME";
#endif
#ifdef ENOSR
  if (err == ENOSR) return "ENOSR";
#endif
#ifdef ENOLINK
  if (err == ENOLINK) return "ENOLINK";
#endif
#ifdef EPROTO
  if (err == EPROTO) return "EPROTO";
#endif
#ifdef EBADMSG
  if (err == EBADMSG) return "EBADMSG";
#endif
#ifdef EOVERFLOW
  if (err == EOVERFLOW) return "EOVERFLOW";
#endif
#ifdef EILSEQ
  if (err == EILSEQ) return "EILSEQ";
#endif
#ifdef EUSERS
  if (err == EUSERS) return "EUSERS";
#endif
#ifdef ENOTSOCK
  if (err == ENOTSOCK) return "ENOTSOCK";
#endif
#ifdef EDESTADDRREQ
  if (err == EDESTADDRREQ) return "EDESTADDRREQ";
#endif
#ifdef EMSGSIZE
  if (err == EMSGSIZE) return "EMSGSIZE";
#endif
#ifdef EPROTOTYPE
  if (err == EPROTOTYPE) return "EPROTOTYPE";
#endif
#ifdef ENOPROTOOPT
  if (err == ENOPROTOOPT) return "ENOPROTOOPT";
#endif
#ifdef EPROTONOSUPPORT
  if (err == EPROTONOSUPPORT) return "EPROTONOSUPPORT";
#endif
#ifdef ESOCKTNOSUPPORT
  if (err == ESOCKTNOSUPPORT) return "ESOCKTNOSUPPORT";
#endif
#ifdef ENOTSUP
  if (err == ENOTSUP) return "ENOTSUP";
#endif
#ifdef EOPNOTSUPP
  if (err == EOPNOTSUPP) return "EOPNOTSUPP";
#endif
#ifdef EPFNOSUPPORT
  if (err == EPFNOSUPPORT) return "EPFNOSUPPORT";
#endif
#ifdef EAFNOSUPPORT
  if (err == EAFNOSUPPORT) return "EAFNOSUPPORT";
#endif
#ifdef EADDRINUSE
  if (err == EADDRINUSE) return "EADDRINUSE";
#endif
#ifdef EADDRNOTAVAIL
  if (err == EADDRNOTAVAIL) return "EADDRNOTAVAIL";
#endif
#ifdef ENETDOWN
  if (err == ENETDOWN) return "ENETDOWN";
#endif
#ifdef ENETUNREACH
  if (err == ENETUNREACH) return "ENETUNREACH";
#endif
#ifdef ENETRESET
  if (err == ENETRESET) return "ENETRESET";
#endif
#ifdef ECONNABORTED
  if (err == ECONNABORTED) return "ECONNABORTED";
#endif
#ifdef ECONNRESET
  if (err == ECONNRESET) return "ECONNRESET";
#endif
#ifdef ENOBUFS
  if (err == ENOBUFS) return "ENOBUFS";
#endif
#ifdef EISCONN
  if (err == EISCONN) return "EISCONN";
#endif
#ifdef ENOTCONN
  if (err == ENOTCONN) return "ENOTCONN";
#endif
#ifdef ESHUTDOWN
  if (err == ESHUTDOWN) return "ESHUTDOWN";
#endif
#ifdef ETOOMANYREFS
  if (err == ETOOMANYREFS) return "ETOOMANYREFS";
#endif
#ifdef ETIMEDOUT
  if (err == ETIMEDOUT) return "ETIMEDOUT";
#endif
#ifdef ECONNREFUSED
  if (err == ECONNREFUSED) return "ECONNREFUSED";
#endif
#ifdef EHOSTDOWN
  if (err == EHOSTDOWN) return "EHOSTDOWN";
#endif
#ifdef EHOSTUNREACH
  if (err == EHOSTUNREACH) return "EHOSTUNREACH";
#endif
#ifdef EALREADY
  if (err == EALREADY) return "EALREADY";
#endif
#ifdef EINPROGRESS
  if (err == EINPROGRESS) return "EINPROGRESS";
#endif
#ifdef ESTALE
  if (err == ESTALE) return "ESTALE";
#endif
#ifdef EDQUOT
  if (err == EDQUOT) return "EDQUOT";
#endif
#ifdef ECANCELED
  if (err == ECANCELED) return "ECANCELED";
#endif
#ifdef EOWNERDEAD
  if (err == EOWNERDEAD) return "EOWNERDEAD";
#endif
#ifdef ENOTRECOVERABLE
  if (err == ENOTRECOVERABLE) return "ENOTRECOVERABLE";
#endif
#ifdef ENOMEDIUM
  if (err == ENOMEDIUM) return "ENOMEDIUM";
#endif
#ifdef EMEDIUMTYPE
  if (err == EMEDIUMTYPE) return "EMEDIUMTYPE";
#endif
#ifdef ENOKEY
  if (err == ENOKEY) return "ENOKEY";
#endif
#ifdef EKEYEXPIRED
  if (err == EKEYEXPIRED) return "EKEYEXPIRED";
#endif
#ifdef EKEYREVOKED
  if (err == EKEYREVOKED) return "EKEYREVOKED";
#endif
#ifdef EKEYREJECTED
  if (err == EKEYREJECTED) return "EKEYREJECTED";
#endif
#ifdef ERFKILL
  if (err == ERFKILL) return "ERFKILL";
#endif
#ifdef EHWPOISON
  if (err == EHWPOISON) return "EHWPOISON";
#endif
#ifdef EBADFD
  if (err == EBADFD) return "EBADFD";
#endif
#ifdef EREMOTEIO
  if (err == EREMOTEIO) return "EREMOTEIO";
#endif
#ifdef EAUTH
  if (err == EAUTH) return "EAUTH";
#endif
#ifdef EBADRPC
  if (err == EBADRPC) return "EBADRPC";
#endif
#ifdef EFTYPE
  if (err == EFTYPE) return "EFTYPE";
#endif
#ifdef ENEEDAUTH
  if (err == ENEEDAUTH) return "ENEEDAUTH";
#endif
#ifdef ENOATTR
  if (err == ENOATTR) return "ENOATTR";
#endif
#ifdef EPROCLIM
  if (err == EPROCLIM) return "EPROCLIM";
#endif
#ifdef EPROCUNAVAIL
  if (err == EPROCUNAVAIL) return "EPROCUNAVAIL";
#endif
#ifdef EPROGMISMATCH
  if (err == EPROGMISMATCH) return "EPROGMISMATCH";
#endif
#ifdef EPROGUNAVAIL
  if (err == EPROGUNAVAIL) return "EPROGUNAVAIL";
#endif
#ifdef ERPCMISMATCH
  if (err == ERPCMISMATCH) return "ERPCMISMATCH";
#endif
#ifdef EBADARCH
  if (err == EBADARCH) return "EBADARCH";
#endif
#ifdef EBADEXEC
  if (err == EBADEXEC) return "EBADEXEC";
#endif
#ifdef EBADMACHO
  if (err == EBADMACHO) return "EBADMACHO";
#endif
#ifdef ESHLIBVERS
  if (err == ESHLIBVERS) return "ESHLIBVERS";
#endif
#ifdef EDEVERR
  if (err == EDEVERR) return "EDEVERR";
#endif
#ifdef EPWROFF
  if (err == EPWROFF) return "EPWROFF";
#endif
#ifdef EQFULL
  if (err == EQFULL) return "EQFULL";
#endif
  return nullptr;
}

}  // namespace confine
