// Package frontend turns model inputs (a supernet checkpoint plus an
// architecture spec, and later other formats) into graph IR.
//
// frontend may import ir and supernet; nothing below it may import frontend.
package frontend
