package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Loadgen needs two Redis commands (PING before, DEL after), so it speaks
// RESP itself instead of linking a client library.

// redisPing checks that a Redis server answers at addr.
func redisPing(addr string) error {
	reply, err := redisDo(addr, "PING")
	if err != nil {
		return err
	}
	if reply != "+PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}

// redisDel deletes keys: the run's streams, with their consumer groups.
func redisDel(addr string, keys ...string) error {
	reply, err := redisDo(addr, append([]string{"DEL"}, keys...)...)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(reply, ":") {
		return fmt.Errorf("DEL answered %q", reply)
	}
	return nil
}

// redisDo sends one command and returns the first line of the reply; an
// error reply is returned as an error.
func redisDo(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", fmt.Errorf("dial redis: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", fmt.Errorf("redis deadline: %w", err)
	}
	if _, err := conn.Write(respCommand(args)); err != nil {
		return "", fmt.Errorf("redis %s: %w", args[0], err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("redis %s: read reply: %w", args[0], err)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return "", fmt.Errorf("redis %s: %s", args[0], line[1:])
	}
	return line, nil
}

// respCommand encodes a command as a RESP array of bulk strings.
func respCommand(args []string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}
