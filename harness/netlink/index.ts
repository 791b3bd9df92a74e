// Public surface of the generic netlink layer (framing, TLV codec, socket, connection); it knows
// nothing about conntrack.
export * from './constants.ts';
export { NetlinkAbortError, NetlinkDecodeError, NetlinkErrnoError, NetlinkSocketError, NetlinkTimeoutError, NetnsNotFoundError, SocketBusyError, SocketClosedError } from '../errors.ts';
export { align4, checkRange, forEachAttr, NestTable, paddedLength, writePadded, type AttrDecl, type AttrDef, type AttrKind } from './attributes.ts';
export {
  decodeDone,
  decodeError,
  decodeExtAck,
  encodeMessage,
  encodeNfMessage,
  forEachMessage,
  NetlinkMessage,
  nfnlType,
  parseMessages,
  readHeader,
  type DoneReply,
  type EncodeMessageInit,
  type EncodeNfMessageInit,
  type ErrorReply,
  type ExtAck,
  type NfGenHeader,
  type NlMsgHeader,
} from './message.ts';
export { assertNetnsName, NetlinkSocket, type NetlinkSocketOptions } from './socket.ts';
export { MAX_BATCH_BYTES, NetlinkConnection, type DumpResult, type TransactResult } from './connection.ts';
export { MessageWriter } from './writer.ts';
