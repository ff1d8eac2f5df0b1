/* mbox: placeholder, being written. */
