/* subject: placeholder, being written. */
