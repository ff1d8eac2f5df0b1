/* am: placeholder, being written. */
