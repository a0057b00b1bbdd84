// Package disk keeps host-local reservations as files: one file per address,
// named by the address and holding the container ID and interface name, plus a
// last-reserved file per range set. An flock on a lock file serialises plugin
// processes, which the runtime may run concurrently for different containers.
package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/podnet/podnet/pkg/cni/hostlocal/allocator"
)

var _ allocator.Store = (*Store)(nil)

const (
	lockFile       = "lock"
	lastIPPrefix   = "last_reserved_ip."
	fieldSeparator = "\n"
)

// Store is a directory of reservation files for one network.
type Store struct {
	dir  string
	lock *os.File
}

// New opens (creating if needed) the reservation directory dataDir/network.
func New(dataDir, network string) (*Store, error) {
	if network == "" || strings.ContainsAny(network, "/\x00") || network == "." || network == ".." {
		return nil, fmt.Errorf("invalid network name %q for a data directory", network)
	}
	dir := filepath.Join(dataDir, network)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create IPAM data directory %q: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open IPAM lock file in %q: %w", dir, err)
	}
	return &Store{dir: dir, lock: f}, nil
}

// Dir returns the directory holding the reservation files.
func (s *Store) Dir() string { return s.dir }

// Close releases the lock file.
func (s *Store) Close() error { return s.lock.Close() }

// Lock takes an exclusive flock; it is per open file, so it also excludes
// other Stores of the same process.
func (s *Store) Lock() error { return flock(s.lock, syscall.LOCK_EX) }

func (s *Store) Unlock() error { return flock(s.lock, syscall.LOCK_UN) }

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func (s *Store) ipPath(ip netip.Addr) string { return filepath.Join(s.dir, ip.String()) }

func (s *Store) Reserve(r allocator.Reservation, rangeID string) (bool, error) {
	f, err := os.OpenFile(s.ipPath(r.IP), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, werr := f.WriteString(strings.TrimSpace(r.ContainerID) + fieldSeparator + r.IfName)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(f.Name())
		return false, werr
	}
	if err := os.WriteFile(filepath.Join(s.dir, lastIPPrefix+rangeID), []byte(r.IP.String()), 0o644); err != nil {
		os.Remove(f.Name())
		return false, err
	}
	return true, nil
}

func (s *Store) LastReservedIP(rangeID string) (netip.Addr, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, lastIPPrefix+rangeID))
	if errors.Is(err, fs.ErrNotExist) {
		return netip.Addr{}, nil
	}
	if err != nil {
		return netip.Addr{}, err
	}
	// A corrupt file only costs the round-robin position.
	ip, _ := netip.ParseAddr(strings.TrimSpace(string(b)))
	return ip, nil
}

func (s *Store) Owner(ip netip.Addr) (allocator.Reservation, bool, error) {
	r, err := s.read(ip)
	if errors.Is(err, fs.ErrNotExist) {
		return allocator.Reservation{}, false, nil
	}
	return r, err == nil, err
}

func (s *Store) read(ip netip.Addr) (allocator.Reservation, error) {
	b, err := os.ReadFile(s.ipPath(ip))
	if err != nil {
		return allocator.Reservation{}, err
	}
	id, ifname, _ := strings.Cut(string(b), fieldSeparator)
	return allocator.Reservation{IP: ip, ContainerID: strings.TrimSpace(id), IfName: strings.TrimSpace(ifname)}, nil
}

func (s *Store) List() ([]allocator.Reservation, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []allocator.Reservation
	for _, e := range entries {
		ip, err := netip.ParseAddr(e.Name())
		if err != nil || !e.Type().IsRegular() {
			continue // the lock and last-reserved files
		}
		r, err := s.read(ip)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out, nil
}

func (s *Store) GetByID(id, ifname string) ([]netip.Addr, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, r := range all {
		if r.ContainerID == id && r.IfName == ifname {
			out = append(out, r.IP)
		}
	}
	return out, nil
}

func (s *Store) ReleaseByID(id, ifname string) error {
	ips, err := s.GetByID(id, ifname)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if err := s.Release(ip); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) Release(ip netip.Addr) error {
	if err := os.Remove(s.ipPath(ip)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
