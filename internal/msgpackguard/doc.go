// Package msgpackguard decodes msgpack bytes that may be damaged or crafted,
// such as the states livefold reads back from a file, without letting them
// make the decoder allocate what their headers claim or crash the process.
//
// msgpack v5.4 sizes slices, maps and strings from the length a header
// declares before it reads the data, so five bytes declaring an array of 268
// million elements make it allocate 4 GiB. [Check] walks the bytes first and
// refuses any length or count that the bytes after it cannot hold; [Unmarshal]
// decodes only what passed [Check] and turns a panic of the decoder into an
// error. Every reader of stored msgpack in livefold, the projection runtime
// and the livefold command, decodes through [Unmarshal], so both refuse the
// same bytes.
package msgpackguard
