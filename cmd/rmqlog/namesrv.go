package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/rmqlog/rmqlog/namesrv"
)

// namesrvCmd runs a RocketMQ name server until SIGTERM or SIGINT.
func namesrvCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("namesrv", "namesrv [--listen :9876]", stderr)
	listen := fs.String("listen", ":9876", "address to serve on (RocketMQ's name server listenPort is 9876)")
	expiry := fs.Duration("broker-expiry", namesrv.DefaultBrokerExpiry,
		"forget a broker not heard from for this long (RocketMQ's BROKER_CHANNEL_EXPIRED_TIME)")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog namesrv: %v (choose another address with --listen)", err)}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	s := namesrv.New(namesrv.Config{BrokerExpiry: *expiry, Logger: log})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	log.Info("rmqlog name server running", "addr", l.Addr().String(), "broker_expiry", expiry.String())
	select {
	case got := <-sig:
		log.Info("shutting down", "signal", got.String())
		s.Close()
		<-served
		log.Info("stopped cleanly")
		return nil
	case err := <-served:
		s.Close()
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog namesrv: serving %s: %v", l.Addr(), err)}
	}
}
