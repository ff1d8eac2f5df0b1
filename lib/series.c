/* series: placeholder, being written. */
