-- Wireshark / tshark dissector for the srdx wire format, versions 2 and 3.
--
--   tshark -X lua_script:tools/wireshark/srdx.lua -r capture.pcap
--   cp tools/wireshark/srdx.lua ~/.local/lib/wireshark/plugins/   (Wireshark GUI)
--
-- docs/protocol.md specifies version 2 field by field; transport/wire.h and
-- transport/wire.cc are the code side of it. Version 3 is version 2 with:
--   * byte 2 (version) = 3;
--   * feature bit 1 (version 2's reserved auth_tag) is `sealed`: a hello or
--     hello_ack offering it is followed, after its 80 header bytes, by the
--     Noise IK handshake message (hello: e 32 | encrypted static 48 |
--     payload tag 16 = 96 bytes, datagram 176; hello_ack: e 32 | payload
--     tag 16 = 48 bytes, datagram 128); the checksum covers the whole
--     datagram, Noise part included;
--   * type 7 `sealed`: 0 magic u16 | 2 version u8 (3) | 3 type u8 (7) |
--     4 flags u8 (bit 0 key phase, bit 1 peer phase) | 5 reserved u8 | 6 src_port u16 |
--     8 dst_cid u64 | 16 counter u64 | 24 ciphertext | last 16: AEAD tag.
--     At least 64 bytes, no checksum (the AEAD tag covers the datagram);
--   * with encryption off, types 1-6 exactly as in version 2.
--
-- The dissector registers on the UDP port in its preferences (default 47000,
-- the receiving port every srdx example and srdx-bench use: srdxd has no
-- built-in port, link.local is required) and as a heuristic dissector on all
-- of UDP (magic 0x5244, version 2 or 3, a known type), since sprayed packets
-- leave from many source ports and peers may receive on any port.
--
-- Every check the transport's decoder makes (docs/protocol.md section 3) is
-- made here too and reported as an expert info; a datagram that is short or
-- inconsistent is decoded as far as it goes, never with a Lua error.
-- Written for Wireshark 4.0 (Lua 5.2, bit32).

local bit = bit32

local srdx = Proto("srdx", "srdx reliable datagram transport")

local MAGIC = 0x5244
local COMMON_LEN = 24
local SEALED_HEADER_LEN = 24
local AEAD_TAG_LEN = 16
local SEALED_MIN_LEN = SEALED_HEADER_LEN + 24 + AEAD_TAG_LEN  -- 64
local MAX_ACK_RANGES = 32
local NOISE1_LEN = 96  -- e 32 | encrypted static 48 | payload tag 16
local NOISE2_LEN = 48  -- e 32 | payload tag 16

local T_HELLO, T_HELLO_ACK, T_DATA, T_ACK, T_RETRY, T_CLOSE, T_SEALED = 1, 2, 3, 4, 5, 6, 7

local type_names = {
  [T_HELLO] = "hello", [T_HELLO_ACK] = "hello_ack", [T_DATA] = "data", [T_ACK] = "ack",
  [T_RETRY] = "retry", [T_CLOSE] = "close", [T_SEALED] = "sealed",
}
-- header_len each type requires (ack: plus 8 per range).
local fixed_len = {
  [T_HELLO] = 80, [T_HELLO_ACK] = 80, [T_DATA] = 72, [T_ACK] = 76, [T_RETRY] = 48, [T_CLOSE] = 40,
}
local close_reasons = {
  [1] = "no_connection", [2] = "removed", [3] = "timeout", [4] = "idle", [5] = "replaced",
}
local checksum_status_names = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }
local CK_BAD, CK_GOOD, CK_UNVERIFIED = 0, 1, 2

local FLAG_ORDERED, FLAG_RETRANSMISSION, FLAG_ACK_NOW, FLAG_COALESCED = 0x1, 0x2, 0x4, 0x8
local FLAGS_KNOWN = 0x000f
local FEAT_ORDERED, FEAT_SEALED, FEAT_COALESCE, FEAT_ACK_ECHO, FEAT_RX_WAIT = 0x1, 0x2, 0x4, 0x10, 0x20
local FEAT_SHARE = 0x40

------------------------------------------------------------------------------
-- Fields
------------------------------------------------------------------------------
local f = {
  magic = ProtoField.uint16("srdx.magic", "Magic", base.HEX),
  version = ProtoField.uint8("srdx.version", "Version", base.DEC),
  type = ProtoField.uint8("srdx.type", "Type", base.DEC, type_names),
  flags = ProtoField.uint16("srdx.flags", "Flags", base.HEX),
  flag_ordered = ProtoField.bool("srdx.flags.ordered", "Ordered", 16, nil, FLAG_ORDERED),
  flag_retransmission = ProtoField.bool("srdx.flags.retransmission", "Retransmission", 16, nil,
                                        FLAG_RETRANSMISSION),
  flag_ack_now = ProtoField.bool("srdx.flags.ack_now", "ACK now", 16, nil, FLAG_ACK_NOW),
  flag_coalesced = ProtoField.bool("srdx.flags.coalesced", "Coalesced (a data packet follows)",
                                   16, nil, FLAG_COALESCED),
  flag_reserved = ProtoField.uint16("srdx.flags.reserved", "Reserved flags", base.HEX, nil, 0xfff0),
  header_len = ProtoField.uint16("srdx.header_len", "Header length", base.DEC),
  checksum = ProtoField.uint32("srdx.checksum", "Checksum", base.HEX),
  checksum_calculated = ProtoField.uint32("srdx.checksum.calculated", "Calculated checksum",
                                          base.HEX),
  checksum_status = ProtoField.uint8("srdx.checksum.status", "Checksum status", base.DEC,
                                     checksum_status_names),
  src_port = ProtoField.uint16("srdx.src_port", "Source (receiving) port", base.DEC),
  -- Data (feature ack_echo): the entropy of an ACK the sender received.
  -- Ack (feature rx_wait): microseconds its largest_pn waited in the receiving
  -- host before it was handled. Zero elsewhere.
  echo = ProtoField.uint16("srdx.echo", "Echo (ACK entropy)", base.DEC),
  rx_wait = ProtoField.uint16("srdx.rx_wait", "Host wait of largest_pn (us)", base.DEC),
  src_cid = ProtoField.uint64("srdx.src_cid", "Source connection id", base.HEX),
  dst_cid = ProtoField.uint64("srdx.dst_cid", "Destination connection id", base.HEX),

  -- hello / hello_ack
  features = ProtoField.uint32("srdx.features", "Features", base.HEX),
  feat_ordered = ProtoField.bool("srdx.features.ordered", "ordered", 32, nil, FEAT_ORDERED),
  feat_auth_tag = ProtoField.bool("srdx.features.auth_tag", "auth_tag (reserved in version 2)",
                                  32, nil, FEAT_SEALED),
  feat_sealed = ProtoField.bool("srdx.features.sealed", "sealed (encryption)", 32, nil,
                                FEAT_SEALED),
  feat_coalesce = ProtoField.bool("srdx.features.coalesce", "coalesce", 32, nil, FEAT_COALESCE),
  feat_ack_echo = ProtoField.bool("srdx.features.ack_echo", "ack_echo", 32, nil, FEAT_ACK_ECHO),
  feat_rx_wait = ProtoField.bool("srdx.features.rx_wait", "rx_wait", 32, nil, FEAT_RX_WAIT),
  feat_share = ProtoField.bool("srdx.features.share", "share", 32, nil, FEAT_SHARE),
  feat_unassigned = ProtoField.uint32("srdx.features.unassigned", "Unassigned", base.HEX, nil,
                                      0xffffff88),
  max_payload = ProtoField.uint32("srdx.hello.max_payload", "Max payload", base.DEC),
  max_message = ProtoField.uint64("srdx.hello.max_message", "Max message", base.DEC),
  recv_msg_window = ProtoField.uint32("srdx.hello.recv_msg_window", "Receive message window",
                                      base.DEC),
  -- hello_ack (feature share): the window the receiver gives the sender to
  -- start with, bytes (0: none).
  hello_initial_window = ProtoField.uint32("srdx.hello.initial_window", "Initial window (bytes)",
                                           base.DEC),
  recv_buffer = ProtoField.uint64("srdx.hello.recv_buffer", "Receive buffer", base.DEC),
  cookie = ProtoField.bytes("srdx.cookie", "Cookie"),
  noise = ProtoField.bytes("srdx.noise", "Noise IK handshake message"),
  noise_e = ProtoField.bytes("srdx.noise.e", "e (ephemeral X25519 public key)"),
  noise_static = ProtoField.bytes("srdx.noise.encrypted_static",
                                  "Encrypted static key (32 + 16-byte tag)"),
  noise_payload_tag = ProtoField.bytes("srdx.noise.payload_tag", "Payload tag"),

  -- data
  pn = ProtoField.uint64("srdx.data.pn", "Packet number", base.DEC),
  pn_floor_delta = ProtoField.uint32("srdx.data.pn_floor_delta", "Packet floor delta", base.DEC),
  pn_floor = ProtoField.uint64("srdx.data.pn_floor", "Packet floor", base.DEC),
  msg_floor_delta = ProtoField.uint32("srdx.data.msg_floor_delta", "Message floor delta",
                                      base.DEC),
  data_msg_floor = ProtoField.uint64("srdx.data.msg_floor", "Message floor", base.DEC),
  msg_id = ProtoField.uint64("srdx.data.msg_id", "Message id", base.DEC),
  msg_len = ProtoField.uint32("srdx.data.msg_len", "Message length", base.DEC),
  frag_index = ProtoField.uint32("srdx.data.frag_index", "Fragment index", base.DEC),
  frag_count = ProtoField.uint32("srdx.data.frag_count", "Fragments in the message", base.DEC),
  prev_delta = ProtoField.uint32("srdx.data.prev_delta", "Previous-message delta", base.DEC),
  prev_msg = ProtoField.uint64("srdx.data.prev_msg_id", "Previous message of the flow", base.DEC),
  frag_size = ProtoField.uint16("srdx.data.frag_size", "Fragment size", base.DEC),
  flow = ProtoField.uint16("srdx.data.flow", "Flow", base.DEC),
  payload_len = ProtoField.uint32("srdx.data.payload_len", "Payload length", base.DEC),
  payload = ProtoField.bytes("srdx.data.payload", "Payload"),

  -- ack
  largest_pn = ProtoField.uint64("srdx.ack.largest_pn", "Largest packet number", base.DEC),
  ack_delay_ns = ProtoField.uint32("srdx.ack.ack_delay_ns", "ACK delay (ns)", base.DEC),
  ack_seq = ProtoField.uint32("srdx.ack.ack_seq", "ACK sequence", base.DEC),
  max_msg_id = ProtoField.uint64("srdx.ack.max_msg_id", "Max message id", base.DEC),
  ack_msg_floor = ProtoField.uint64("srdx.ack.msg_floor", "Message floor", base.DEC),
  free_buffer = ProtoField.uint64("srdx.ack.free_buffer", "Free buffer (bytes)", base.DEC),
  range_count = ProtoField.uint16("srdx.ack.range_count", "Range count", base.DEC),
  -- Ack (feature share): the data sender's rate over the mean of the
  -- receiver's active senders, in 1/256 units (0: no figure).
  ack_share = ProtoField.uint16("srdx.ack.share", "Share of the mean (1/256)", base.DEC),
  range = ProtoField.bytes("srdx.ack.range", "Range"),
  range_gap = ProtoField.uint32("srdx.ack.range.gap", "Gap", base.DEC),
  range_len = ProtoField.uint32("srdx.ack.range.len", "Length", base.DEC),
  range_lo = ProtoField.uint64("srdx.ack.range.lo", "Lowest packet number", base.DEC),
  range_hi = ProtoField.uint64("srdx.ack.range.hi", "Highest packet number", base.DEC),

  -- close
  close_reason = ProtoField.uint32("srdx.close.reason", "Reason", base.DEC, close_reasons),
  close_reserved = ProtoField.uint32("srdx.close.reserved", "Reserved", base.HEX),

  -- sealed (version 3, type 7)
  sealed_flags = ProtoField.uint8("srdx.sealed.flags", "Flags", base.HEX),
  key_phase = ProtoField.uint8("srdx.sealed.key_phase", "Key phase", base.DEC, nil, 0x01),
  peer_phase = ProtoField.uint8("srdx.sealed.peer_phase", "Peer phase (opens the receiver's with)",
                                base.DEC, nil, 0x02),
  sealed_flags_reserved = ProtoField.uint8("srdx.sealed.flags.reserved", "Reserved flags",
                                           base.HEX, nil, 0xfc),
  sealed_reserved = ProtoField.uint8("srdx.sealed.reserved", "Reserved", base.HEX),
  counter = ProtoField.uint64("srdx.sealed.counter", "Counter", base.DEC),
  ciphertext_len = ProtoField.uint32("srdx.sealed.ciphertext_len", "Ciphertext length", base.DEC),
  ciphertext = ProtoField.bytes("srdx.sealed.ciphertext", "Ciphertext"),
  aead_tag = ProtoField.bytes("srdx.sealed.tag", "AEAD tag"),
  sealed_note = ProtoField.string("srdx.sealed.note", "Note"),
}
local field_list = {}
for _, v in pairs(f) do field_list[#field_list + 1] = v end
srdx.fields = field_list

local ef = {
  checksum_bad = ProtoExpert.new("srdx.checksum.bad", "Bad checksum", expert.group.CHECKSUM,
                                 expert.severity.ERROR),
  too_short = ProtoExpert.new("srdx.too_short", "Packet too short (too_short)",
                              expert.group.MALFORMED, expert.severity.ERROR),
  bad_version = ProtoExpert.new("srdx.bad_version", "Unknown magic or version (bad_version)",
                                expert.group.MALFORMED, expert.severity.ERROR),
  bad_type = ProtoExpert.new("srdx.bad_type", "Unknown type (bad_type)", expert.group.MALFORMED,
                             expert.severity.ERROR),
  bad_length = ProtoExpert.new("srdx.bad_length", "Length mismatch (bad_length)",
                               expert.group.MALFORMED, expert.severity.ERROR),
  bad_field = ProtoExpert.new("srdx.bad_field", "Field out of range (bad_field)",
                              expert.group.PROTOCOL, expert.severity.WARN),
  bad_coalesce = ProtoExpert.new("srdx.bad_coalesce", "Bad coalesced datagram (bad_coalesce)",
                                 expert.group.MALFORMED, expert.severity.ERROR),
  internal = ProtoExpert.new("srdx.dissector_error", "srdx dissector error",
                             expert.group.MALFORMED, expert.severity.ERROR),
}
srdx.experts = { ef.checksum_bad, ef.too_short, ef.bad_version, ef.bad_type, ef.bad_length,
                 ef.bad_field, ef.bad_coalesce, ef.internal }

-- The transport's DropReason each check stands for, shown after the text so
-- a capture reads like srdx's drop counters.
local expert_reason = {
  [ef.checksum_bad] = "bad_checksum", [ef.too_short] = "too_short",
  [ef.bad_version] = "bad_version", [ef.bad_type] = "bad_type",
  [ef.bad_length] = "bad_length", [ef.bad_field] = "bad_field",
  [ef.bad_coalesce] = "bad_coalesce",
}
local function expert(item, e, text)
  local reason = expert_reason[e]
  if reason then text = text .. " (" .. reason .. ")" end
  item:add_proto_expert_info(e, text)
end

srdx.prefs.port = Pref.uint("UDP port", 47000,
  "UDP port srdx is decoded on (0: none; the heuristic dissector finds srdx on any port)")
srdx.prefs.heuristic = Pref.bool("Heuristic dissector", true,
  "Recognise srdx on any UDP port by its magic 0x5244, version 2 or 3 and type")

------------------------------------------------------------------------------
-- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the iSCSI CRC.
------------------------------------------------------------------------------
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) ~= 0 then
      c = bit.bxor(bit.rshift(c, 1), 0x82F63B78)
    else
      c = bit.rshift(c, 1)
    end
  end
  crc_table[i] = c
end

local function crc_update(crc, s)
  for i = 1, #s do
    crc = bit.bxor(bit.rshift(crc, 8), crc_table[bit.band(bit.bxor(crc, s:byte(i)), 0xff)])
  end
  return crc
end

-- CRC32C of tvb[off, off + len) with the 4 bytes at off + 8 read as zero.
local function packet_crc(tvb, off, len)
  local crc = 0xffffffff
  crc = crc_update(crc, tvb:raw(off, 8))
  crc = crc_update(crc, "\0\0\0\0")
  if len > 12 then crc = crc_update(crc, tvb:raw(off + 12, len - 12)) end
  return bit.bxor(crc, 0xffffffff)
end
-- The check value of "123456789" (docs/protocol.md, Checksum).
assert(bit.bxor(crc_update(0xffffffff, "123456789"), 0xffffffff) == 0xE3069283)

------------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------------
local ZERO64 = UInt64.new(0)
local function u64(n) return UInt64.new(n) end

local function cid_str(v)
  if v == nil then return "?" end
  if v == ZERO64 then return "0" end
  return v:tohex(16)
end

-- Reads the fields of one packet at tvb[base, limit), adding each to `tree`.
-- A field that does not fit is not added; `short` then records it.
local Reader = {}
Reader.__index = Reader
local function new_reader(tvb, base, limit)
  return setmetatable({ tvb = tvb, base = base, limit = limit, short = false }, Reader)
end
function Reader:has(off, size) return self.base + off + size <= self.limit end
function Reader:range(off, size) return self.tvb(self.base + off, size) end
-- Adds `field` for the `size` bytes at packet offset `off`; returns the value
-- (number for up to 4 bytes, UInt64 for 8, ByteArray otherwise) and the item.
function Reader:add(tree, field, off, size)
  if not self:has(off, size) then
    self.short = true
    return nil, nil
  end
  local r = self:range(off, size)
  local item = tree:add(field, r)
  if size <= 4 then return r:uint(), item end
  if size == 8 then return r:uint64(), item end
  return r:bytes(), item
end

local function generated(tree, field, value)
  local item = tree:add(field, value)
  item:set_generated()
  return item
end

local function is_zero(bytes)
  for i = 0, bytes:len() - 1 do
    if bytes:get_index(i) ~= 0 then return false end
  end
  return true
end

------------------------------------------------------------------------------
-- Type headers. Each gets the reader `r` (packet offsets), the packet's
-- subtree, its common header values `c`, and returns an Info summary.
------------------------------------------------------------------------------
local function dissect_hello(r, tree, c)
  local dst = r:add(tree, f.dst_cid, 24, 8)
  local feats, fitem = r:add(tree, f.features, 32, 4)
  if fitem then
    fitem:add(f.feat_ordered, r:range(32, 4))
    if c.version >= 3 then
      fitem:add(f.feat_sealed, r:range(32, 4))
    else
      fitem:add(f.feat_auth_tag, r:range(32, 4))
    end
    fitem:add(f.feat_coalesce, r:range(32, 4))
    fitem:add(f.feat_ack_echo, r:range(32, 4))
    fitem:add(f.feat_rx_wait, r:range(32, 4))
    fitem:add(f.feat_share, r:range(32, 4))
    fitem:add(f.feat_unassigned, r:range(32, 4))
  end
  local max_payload, mp_item = r:add(tree, f.max_payload, 36, 4)
  r:add(tree, f.max_message, 40, 8)
  local window, w_item = r:add(tree, f.recv_msg_window, 48, 4)
  r:add(tree, f.hello_initial_window, 52, 4)
  r:add(tree, f.recv_buffer, 56, 8)
  local cookie = r:add(tree, f.cookie, 64, 16)
  if max_payload == 0 then expert(mp_item, ef.bad_field, "max_payload is 0") end
  if window == 0 then expert(w_item, ef.bad_field, "recv_msg_window is 0") end

  local name = type_names[c.type]
  local info = name .. " cid=" .. cid_str(c.src_cid) .. " dst=" .. cid_str(dst)
  if cookie and not is_zero(cookie) then info = info .. " cookie" end

  -- Version 3, feature sealed: the Noise handshake message follows the header.
  local sealed = c.version >= 3 and feats ~= nil and bit.band(feats, FEAT_SEALED) ~= 0
  local hl = fixed_len[c.type]
  local extra = r.limit - (r.base + hl)
  if sealed then
    local want = c.type == T_HELLO and NOISE1_LEN or NOISE2_LEN
    local label = c.type == T_HELLO and "Noise IK message 1 (initiator)"
                                     or "Noise IK message 2 (responder)"
    info = info .. " sealed"
    if extra > 0 then
      local n = math.min(extra, want)
      local nitem = tree:add(f.noise, r:range(hl, n))
      nitem:set_text(label .. ", " .. want .. " bytes")
      -- A cut Noise part is reported below, not as a cut header.
      local header_short = r.short
      r:add(nitem, f.noise_e, hl, 32)
      if c.type == T_HELLO then
        r:add(nitem, f.noise_static, hl + 32, 48)
        r:add(nitem, f.noise_payload_tag, hl + 80, 16)
      else
        r:add(nitem, f.noise_payload_tag, hl + 32, 16)
      end
      r.short = header_short
    end
    if extra ~= want and extra >= 0 then
      expert(tree, extra < want and ef.too_short or ef.bad_length,
        string.format("%s with feature sealed: %d bytes after the header, %d expected " ..
                      "(datagram %d, expected %d)", name, extra, want, hl + extra, hl + want))
    end
  elseif extra > 0 then
    expert(tree, ef.bad_length, string.format(
      "%d bytes after the %d-byte %s (it must end at header_len)", extra, hl, name))
  end
  return info
end

local function frag_count(msg_len, frag_size)
  if msg_len == 0 then return 1 end
  if frag_size == 0 then return nil end
  return math.floor((msg_len + frag_size - 1) / frag_size)
end

local function dissect_data(r, tree, c)
  local dst, dst_item = r:add(tree, f.dst_cid, 24, 8)
  local pn = r:add(tree, f.pn, 32, 8)
  local pn_floor_delta, pfd_item = r:add(tree, f.pn_floor_delta, 40, 4)
  local msg_floor_delta, mfd_item = r:add(tree, f.msg_floor_delta, 44, 4)
  local msg_id = r:add(tree, f.msg_id, 48, 8)
  local msg_len = r:add(tree, f.msg_len, 56, 4)
  local frag_index, fi_item = r:add(tree, f.frag_index, 60, 4)
  local prev_delta, pd_item = r:add(tree, f.prev_delta, 64, 4)
  local frag_size = r:add(tree, f.frag_size, 68, 2)
  r:add(tree, f.flow, 70, 2)
  if r.short then return "data (truncated)" end

  local payload_len = r.limit - (r.base + 72)
  local pl_item = generated(tree, f.payload_len, payload_len)
  if payload_len > 0 then
    tree:add(f.payload, r:range(72, payload_len))
  end
  if payload_len > 65535 then
    expert(pl_item, ef.bad_length, "payload longer than 65535 bytes")
  end

  if dst == ZERO64 then expert(dst_item, ef.bad_field, "dst_cid is 0") end
  if u64(pn_floor_delta) > pn then
    expert(pfd_item, ef.bad_field, "pn_floor_delta is larger than pn")
  else
    generated(pfd_item, f.pn_floor, pn - u64(pn_floor_delta))
  end
  if u64(msg_floor_delta) > msg_id then
    expert(mfd_item, ef.bad_field, "msg_floor_delta is larger than msg_id")
  else
    generated(mfd_item, f.data_msg_floor, msg_id - u64(msg_floor_delta))
  end
  if u64(prev_delta) > msg_id then
    expert(pd_item, ef.bad_field, "prev_delta is larger than msg_id")
  elseif prev_delta ~= 0 then
    generated(pd_item, f.prev_msg, msg_id - u64(prev_delta))
    if bit.band(c.flags, FLAG_ORDERED) == 0 then
      expert(pd_item, ef.bad_field, "prev_delta set without flag ordered")
    end
  end

  -- The fragment must be consistent on its own (docs/protocol.md section 6).
  local count = frag_count(msg_len, frag_size)
  if count then generated(fi_item, f.frag_count, count) end
  local why
  if msg_len == 0 then
    if frag_index ~= 0 or payload_len ~= 0 then why = "the empty message has one empty fragment" end
  elseif frag_size == 0 then
    why = "frag_size is 0"
  elseif payload_len == 0 or payload_len > frag_size then
    why = "payload length must be 1..frag_size"
  else
    local offset = frag_index * frag_size  -- below 2^48: exact in a double
    local stop = offset + payload_len
    if stop > msg_len then
      why = "fragment reaches past msg_len"
    elseif stop ~= msg_len and payload_len ~= frag_size then
      why = "a fragment but the last must be frag_size long"
    end
  end
  if why then expert(fi_item, ef.bad_field, why) end

  local info = string.format("data msg=%s frag=%d/%s pn=%s", tostring(msg_id), frag_index,
                             count and tostring(count) or "?", tostring(pn))
  local fl = {}
  if bit.band(c.flags, FLAG_ORDERED) ~= 0 then fl[#fl + 1] = "ordered" end
  if bit.band(c.flags, FLAG_RETRANSMISSION) ~= 0 then fl[#fl + 1] = "retx" end
  if bit.band(c.flags, FLAG_ACK_NOW) ~= 0 then fl[#fl + 1] = "ack_now" end
  if #fl > 0 then info = info .. " [" .. table.concat(fl, ",") .. "]" end
  return info
end

local function dissect_ack(r, tree, c)
  local dst, dst_item = r:add(tree, f.dst_cid, 24, 8)
  local largest, l_item = r:add(tree, f.largest_pn, 32, 8)
  r:add(tree, f.ack_delay_ns, 40, 4)
  r:add(tree, f.ack_seq, 44, 4)
  r:add(tree, f.max_msg_id, 48, 8)
  r:add(tree, f.ack_msg_floor, 56, 8)
  r:add(tree, f.free_buffer, 64, 8)
  local count, rc_item = r:add(tree, f.range_count, 72, 2)
  r:add(tree, f.ack_share, 74, 2)
  if r.short then return "ack (truncated)" end

  if dst == ZERO64 then expert(dst_item, ef.bad_field, "dst_cid is 0") end
  if count > MAX_ACK_RANGES then
    expert(rc_item, ef.bad_field, "more than " .. MAX_ACK_RANGES .. " ranges")
  end
  if count == 0 and largest ~= ZERO64 then
    expert(l_item, ef.bad_field, "largest_pn must be 0 when range_count is 0")
  end

  -- Ranges from the highest down: entry 0 ends at largest_pn; entry k > 0
  -- ends gap + 1 below the previous range's low end (docs/protocol.md 8).
  local hi = largest
  local prev_lo = nil
  local valid = true
  for i = 0, count - 1 do
    local off = 76 + 8 * i
    if not r:has(off, 8) then
      r.short = true
      break
    end
    local rtree = tree:add(f.range, r:range(off, 8))
    local gap = r:add(rtree, f.range_gap, off, 4)
    local len = r:add(rtree, f.range_len, off + 4, 4)
    local problem
    if valid then
      if i == 0 and gap ~= 0 then
        problem = "the first range's gap must be 0"
      elseif i > 0 and gap == 0 then
        problem = "gap must be at least 1"
      elseif i > 0 and prev_lo < u64(gap) + 1 then
        problem = "range reaches below packet number 0"
      end
      if not problem and i > 0 then hi = prev_lo - u64(gap) - 1 end
      if not problem then
        if len == 0 then
          problem = "len must be at least 1"
        elseif u64(len - 1) > hi then
          problem = "range reaches below packet number 0"
        end
      end
    end
    if problem then
      valid = false
      expert(rtree, ef.bad_field, problem)
      rtree:set_text(string.format("Range %d: gap %d, len %d (invalid)", i, gap, len))
    elseif valid then
      local lo = hi - u64(len - 1)
      generated(rtree, f.range_lo, lo)
      generated(rtree, f.range_hi, hi)
      rtree:set_text(string.format("Range %d: %s..%s (gap %d, len %d)", i, tostring(lo),
                                   tostring(hi), gap, len))
      prev_lo = lo
    else
      rtree:set_text(string.format("Range %d: gap %d, len %d (after an invalid range)", i, gap,
                                   len))
    end
  end
  return string.format("ack largest=%s ranges=%d", tostring(largest), count)
end

local function dissect_retry(r, tree, c)
  local dst, dst_item = r:add(tree, f.dst_cid, 24, 8)
  r:add(tree, f.cookie, 32, 16)
  if dst == ZERO64 then expert(dst_item, ef.bad_field, "dst_cid is 0") end
  return "retry dst=" .. cid_str(dst)
end

local function dissect_close(r, tree, c)
  local dst, dst_item = r:add(tree, f.dst_cid, 24, 8)
  local reason, reason_item = r:add(tree, f.close_reason, 32, 4)
  local reserved, res_item = r:add(tree, f.close_reserved, 36, 4)
  if dst == ZERO64 then expert(dst_item, ef.bad_field, "dst_cid is 0") end
  if reason ~= nil and close_reasons[reason] == nil then
    expert(reason_item, ef.bad_field, "unknown close reason " .. reason)
  end
  if reserved ~= nil and reserved ~= 0 then
    expert(res_item, ef.bad_field, "reserved is not zero")
  end
  local name = reason and (close_reasons[reason] or tostring(reason)) or "?"
  return "close reason=" .. name .. " dst=" .. cid_str(dst)
end

local type_dissectors = {
  [T_HELLO] = dissect_hello, [T_HELLO_ACK] = dissect_hello, [T_DATA] = dissect_data,
  [T_ACK] = dissect_ack, [T_RETRY] = dissect_retry, [T_CLOSE] = dissect_close,
}

------------------------------------------------------------------------------
-- Sealed datagram (version 3, type 7): no checksum; the body is encrypted.
------------------------------------------------------------------------------
local function dissect_sealed(tvb, base, tree, version)
  local len = tvb:len() - base
  local r = new_reader(tvb, base, tvb:len())
  local flags, fl_item = r:add(tree, f.sealed_flags, 4, 1)
  if fl_item then
    fl_item:add(f.key_phase, r:range(4, 1))
    fl_item:add(f.peer_phase, r:range(4, 1))
    fl_item:add(f.sealed_flags_reserved, r:range(4, 1))
    if bit.band(flags, 0xfc) ~= 0 then
      expert(fl_item, ef.bad_field, "sealed flags other than key phase and peer phase are set")
    end
  end
  local reserved, res_item = r:add(tree, f.sealed_reserved, 5, 1)
  if reserved ~= nil and reserved ~= 0 then
    expert(res_item, ef.bad_field, "reserved is not zero")
  end
  r:add(tree, f.src_port, 6, 2)
  local dst = r:add(tree, f.dst_cid, 8, 8)
  local counter = r:add(tree, f.counter, 16, 8)
  if version ~= 3 then
    expert(tree, ef.bad_type, "type 7 (sealed) exists in version 3 only")
  end
  if len < SEALED_MIN_LEN then
    expert(tree, ef.too_short, string.format(
      "sealed datagram of %d bytes; at least %d (24 header + 24 ciphertext + 16 tag)", len,
      SEALED_MIN_LEN))
  end
  if len >= SEALED_HEADER_LEN + AEAD_TAG_LEN then
    local ct_len = len - SEALED_HEADER_LEN - AEAD_TAG_LEN
    generated(tree, f.ciphertext_len, ct_len)
    if ct_len > 0 then tree:add(f.ciphertext, r:range(SEALED_HEADER_LEN, ct_len)) end
    tree:add(f.aead_tag, r:range(len - AEAD_TAG_LEN, AEAD_TAG_LEN))
  end
  generated(tree, f.sealed_note,
            "encrypted (AES-256-GCM or ChaCha20-Poly1305), cannot be decoded without the keys")
  local key_phase = flags and bit.band(flags, 1) or 0
  return string.format("sealed cid=%s ctr=%s kp=%d", cid_str(dst),
                       counter and tostring(counter) or "?", key_phase)
end

------------------------------------------------------------------------------
-- One packet at tvb[base...]: the whole rest of the datagram, or a coalesced
-- ack's header_len bytes. Returns an Info summary, the packet's end offset
-- (where a coalesced data packet starts, or nil) and its common header.
------------------------------------------------------------------------------
local function dissect_packet(tvb, pinfo, root, base, position)
  local avail = tvb:len() - base
  local item = root:add(srdx, tvb(base, avail))
  if position then item:append_text(position) end
  local c = {}
  if avail < 4 then
    expert(item, ef.too_short, string.format(
      "%d bytes: not even magic, version and type (a packet has at least %d)", avail, COMMON_LEN))
    return "too short", nil, c
  end
  local r = new_reader(tvb, base, tvb:len())
  local magic, m_item = r:add(item, f.magic, 0, 2)
  local version, v_item = r:add(item, f.version, 2, 1)
  local ptype, t_item = r:add(item, f.type, 3, 1)
  c.version, c.type = version, ptype
  local tname = type_names[ptype] or ("type " .. ptype)
  item:append_text(", " .. tname)
  if magic ~= MAGIC then
    expert(m_item, ef.bad_version, string.format("magic 0x%04x is not 0x5244", magic))
    return "bad magic", nil, c
  end
  if version ~= 2 and version ~= 3 then
    expert(v_item, ef.bad_version, "version " .. version .. " (known: 2 and 3)")
    return "unknown version " .. version, nil, c
  end
  if ptype == T_SEALED then
    return dissect_sealed(tvb, base, item, version), nil, c
  end
  if type_dissectors[ptype] == nil then
    expert(t_item, ef.bad_type, "unknown type " .. ptype)
    return "unknown type " .. ptype, nil, c
  end

  -- Common header.
  local flags, fl_item = r:add(item, f.flags, 4, 2)
  if fl_item then
    fl_item:add(f.flag_ordered, r:range(4, 2))
    fl_item:add(f.flag_retransmission, r:range(4, 2))
    fl_item:add(f.flag_ack_now, r:range(4, 2))
    fl_item:add(f.flag_coalesced, r:range(4, 2))
    fl_item:add(f.flag_reserved, r:range(4, 2))
  end
  local header_len, hl_item = r:add(item, f.header_len, 6, 2)
  local checksum, ck_item = r:add(item, f.checksum, 8, 4)
  c.src_port = r:add(item, f.src_port, 12, 2)
  local echo_field = ptype == T_ACK and f.rx_wait or f.echo
  local echo, echo_item = r:add(item, echo_field, 14, 2)
  local src_cid, sc_item = r:add(item, f.src_cid, 16, 8)
  c.flags, c.src_cid = flags, src_cid
  if r.short then
    expert(item, ef.too_short, string.format(
      "%d bytes, shorter than the %d-byte common header", avail, COMMON_LEN))
    return tname .. " (truncated)", nil, c
  end

  -- Lengths (docs/protocol.md section 3, step 4).
  local coalesced = bit.band(flags, FLAG_COALESCED) ~= 0
  if coalesced and ptype ~= T_ACK then
    expert(fl_item, ef.bad_coalesce, "flag coalesced on a " .. tname)
    coalesced = false
  end
  local want = fixed_len[ptype]
  if ptype == T_ACK and r:has(72, 2) then want = want + 8 * r:range(72, 2):uint() end
  if header_len ~= want then
    expert(hl_item, ef.bad_length, string.format(
      "header_len %d, the %s needs %d", header_len, tname, want))
  end
  -- The packet: a coalesced ack ends at its header_len; anything else fills
  -- the datagram. The checksum covers exactly the packet.
  local pkt_len = avail
  local next_off = nil
  if coalesced then
    pkt_len = math.min(want, avail)
    if avail > want then next_off = base + want end
  end
  item:set_len(pkt_len)
  r.limit = base + pkt_len

  -- Checksum (step 5), on a packet whose header is all there (the decoder
  -- refuses a shorter one as too_short before it looks at the checksum).
  local ok = true
  if pkt_len < want then
    generated(ck_item, f.checksum_status, CK_UNVERIFIED)
    ck_item:append_text(" [unverified: packet too short]")
  else
    local calc = packet_crc(tvb, base, pkt_len)
    ok = calc == checksum
    generated(ck_item, f.checksum_calculated, calc)
    generated(ck_item, f.checksum_status, ok and CK_GOOD or CK_BAD)
    if ok then
      ck_item:append_text(" [correct]")
    else
      ck_item:append_text(string.format(" [incorrect, should be 0x%08x]", calc))
      expert(ck_item, ef.checksum_bad, string.format(
        "Bad checksum 0x%08x, calculated 0x%08x over %d bytes", checksum, calc, pkt_len))
    end
  end

  -- Common field rules (step 6).
  if echo ~= 0 and ptype ~= T_DATA and ptype ~= T_ACK then
    expert(echo_item, ef.bad_field, "echo is not zero on a " .. tname)
  end
  if bit.band(flags, 0xffff - FLAGS_KNOWN) ~= 0 then
    expert(fl_item, ef.bad_field, "unknown flag bits set")
  end
  if ptype == T_RETRY and src_cid ~= ZERO64 then
    expert(sc_item, ef.bad_field, "a retry's src_cid must be 0")
  elseif ptype ~= T_RETRY and src_cid == ZERO64 then
    expert(sc_item, ef.bad_field, "src_cid is 0")
  end

  local info = type_dissectors[ptype](r, item, c)
  if r.short then
    expert(item, ef.too_short, string.format(
      "%d bytes, shorter than the %s's %d-byte header", pkt_len, tname, want))
  elseif ptype ~= T_DATA and ptype ~= T_HELLO and ptype ~= T_HELLO_ACK and pkt_len > want then
    expert(item, ef.bad_length, string.format(
      "%d bytes after the %d-byte %s (it must end at header_len)", pkt_len - want, want, tname))
  end
  if not ok then info = info .. " [BAD CHECKSUM]" end
  if ptype == T_ACK then c.dst_cid = r:has(24, 8) and r:range(24, 8):uint64() or nil end
  if ptype == T_DATA then c.dst_cid = r:has(24, 8) and r:range(24, 8):uint64() or nil end
  if coalesced and next_off == nil then
    expert(item, ef.bad_coalesce,
                               "flag coalesced, but no data packet follows the ack")
  end
  return info, next_off, c
end

local function dissect_datagram(tvb, pinfo, tree)
  pinfo.cols.protocol = "SRDX"
  local info, next_off, first = dissect_packet(tvb, pinfo, tree, 0, nil)
  if next_off then
    -- Coalesced datagram: the data packet after the ack, checked as a
    -- datagram of its own, then bound to the ack (section 3, step 7).
    local info2, next2, second = dissect_packet(tvb, pinfo, tree, next_off,
                                                " (coalesced after the ack)")
    local problem
    if second.type ~= T_DATA then
      problem = "the packet after a coalesced ack must be data"
    elseif next2 ~= nil or (second.flags and bit.band(second.flags, FLAG_COALESCED) ~= 0) then
      problem = "the data packet after a coalesced ack must not be coalesced"
    elseif second.version ~= first.version then
      problem = "the two packets have different versions"
    elseif second.src_cid ~= first.src_cid or second.src_port ~= first.src_port or
           second.dst_cid ~= first.dst_cid then
      problem = "the data packet's src_cid, src_port and dst_cid must be the ack's"
    end
    if problem then expert(tree, ef.bad_coalesce, problem) end
    info = info .. " + " .. info2
  end
  pinfo.cols.info:set(info)
end

-- Dissects with every error caught: malformed input gets an expert info.
local function safe_dissect(tvb, pinfo, tree)
  local ok, err = pcall(dissect_datagram, tvb, pinfo, tree)
  if not ok then
    pinfo.cols.protocol = "SRDX"
    pinfo.cols.info:set("srdx: could not decode (dissector error)")
    local item = tree:add(srdx, tvb())
    expert(item, ef.internal, "could not decode: " .. tostring(err))
  end
  return tvb:len()
end

function srdx.dissector(tvb, pinfo, tree)
  -- On the configured port: anything with the magic is ours (a wrong version
  -- or type is then reported); anything else goes back to UDP.
  if tvb:len() < 2 or tvb(0, 2):uint() ~= MAGIC then return 0 end
  return safe_dissect(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree)
  if not srdx.prefs.heuristic then return false end
  if tvb:len() < COMMON_LEN or tvb(0, 2):uint() ~= MAGIC then return false end
  local version, ptype = tvb(2, 1):uint(), tvb(3, 1):uint()
  if version == 2 then
    if ptype < T_HELLO or ptype > T_CLOSE then return false end
  elseif version == 3 then
    if ptype < T_HELLO or ptype > T_SEALED then return false end
  else
    return false
  end
  safe_dissect(tvb, pinfo, tree)
  return true
end
srdx:register_heuristic("udp", heuristic)

local udp_port_table = DissectorTable.get("udp.port")
local registered_port = 0
local function register_port()
  if registered_port ~= 0 then udp_port_table:remove(registered_port, srdx) end
  registered_port = srdx.prefs.port
  if registered_port ~= 0 then udp_port_table:add(registered_port, srdx) end
end
function srdx.prefs_changed()
  if srdx.prefs.port ~= registered_port then register_port() end
end
register_port()
