// Package index reads and writes kmod's binary module indexes, the
// modules.*.bin files that libkmod consults instead of the text files
// (modules.dep.bin, modules.alias.bin, modules.symbols.bin,
// modules.builtin.bin, modules.builtin.alias.bin).
//
// The format (magic 0xB007F457, version 2.1) is a radix trie whose nodes
// hold a compressed prefix, a dense range of child offsets and a list of
// values sorted by priority; all integers are big-endian uint32. Reader
// mirrors libkmod's look-ups, including the wildcard search that treats the
// stored keys as fnmatch patterns; Trie builds a file the way depmod does,
// byte for byte.
package index
