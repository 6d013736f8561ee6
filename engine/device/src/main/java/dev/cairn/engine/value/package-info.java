/**
 * How a typed value lays itself out in its map section: one entry per field, a head with the
 * value's version, the leaf-against-subtree rule and the minimal write. Pure functions over map
 * entries; the rules are spec/vectors/values/README.md, shared with the browser client. Internal:
 * not exported.
 */
package dev.cairn.engine.value;
